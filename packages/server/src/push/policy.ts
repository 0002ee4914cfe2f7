import { ErrorCode, ParleyError, pb } from '@parley/protocol';
import type { PreviewMode, PushSettings } from './types.js';

/** Settings of a user who never chose any: full previews, no quiet hours. */
export function defaultSettings(userId: string): PushSettings {
  return {
    userId,
    preview: 'full',
    dndEnabled: false,
    dndStartMinute: 22 * 60,
    dndEndMinute: 7 * 60,
    timeZone: '',
    updatedAt: 0,
  };
}

/** Checks and converts a PUSH_SETTINGS request (also used by the HTTP API). */
export function settingsFromRequest(
  userId: string,
  req: pb.PushSettingsRequest.$Properties,
  now: number,
): PushSettings {
  const start = req.dndStartMinute ?? 0;
  const end = req.dndEndMinute ?? 0;
  if (start > 1439 || end > 1439) throw invalid('dnd_start_minute and dnd_end_minute must be 0 to 1439');
  const timeZone = req.timeZone ?? '';
  if (timeZone !== '' && !validTimeZone(timeZone)) throw invalid(`unknown time zone "${timeZone.slice(0, 64)}"`);
  return {
    userId,
    preview: previewOf(req.preview ?? pb.PushPreview.PUSH_PREVIEW_UNSPECIFIED, req.hidePreview ?? false),
    dndEnabled: req.dndEnabled ?? false,
    dndStartMinute: start,
    dndEndMinute: end,
    timeZone,
    updatedAt: now,
  };
}

function previewOf(preview: pb.PushPreview, hidePreview: boolean): PreviewMode {
  switch (preview) {
    case pb.PushPreview.PUSH_PREVIEW_FULL:
      return 'full';
    case pb.PushPreview.PUSH_PREVIEW_SENDER_ONLY:
      return 'sender';
    case pb.PushPreview.PUSH_PREVIEW_NONE:
      return 'none';
    case pb.PushPreview.PUSH_PREVIEW_UNSPECIFIED:
      return hidePreview ? 'none' : 'full';
    default:
      throw invalid('unknown preview mode');
  }
}

/** Whether `now` falls inside the user's do-not-disturb hours, in the user's time zone. */
export function inQuietHours(settings: PushSettings, now: number): boolean {
  if (!settings.dndEnabled || settings.dndStartMinute === settings.dndEndMinute) return false;
  const minute = minuteOfDay(now, settings.timeZone);
  const { dndStartMinute: start, dndEndMinute: end } = settings;
  // A window that ends before it starts wraps midnight (22:00 to 07:00).
  return start < end ? minute >= start && minute < end : minute >= start || minute < end;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Minutes after local midnight at `now` in `timeZone` ('' = UTC). */
export function minuteOfDay(now: number, timeZone: string): number {
  const zone = timeZone || 'UTC';
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hour: 'numeric', minute: 'numeric', hourCycle: 'h23' });
    if (formatters.size < 1000) formatters.set(zone, f);
  }
  let hour = 0;
  let minute = 0;
  for (const part of f.formatToParts(now)) {
    if (part.type === 'hour') hour = Number(part.value);
    else if (part.type === 'minute') minute = Number(part.value);
  }
  return hour * 60 + minute;
}

export function validTimeZone(zone: string): boolean {
  if (zone.length > 64) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function invalid(message: string): ParleyError {
  return new ParleyError(ErrorCode.INVALID_ARGUMENT, message);
}
