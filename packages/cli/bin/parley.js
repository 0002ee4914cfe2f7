#!/usr/bin/env node
// Runs the built CLI (npm run build). In this repository `npm start` runs the sources via tsx.
import '../dist/main.js';
