import { render } from 'preact';
import { App } from './app.js';
import { applyTheme, savedTheme } from './theme.js';
import './styles/base.css';
import './styles/layout.css';
import './styles/chat.css';
import './styles/dialogs.css';
import './styles/live.css';
import './styles/phone.css';

applyTheme(savedTheme());
render(<App />, document.getElementById('app') as HTMLElement);
