import { formatShanghai } from '../src/dates.ts';
import type { translator } from './i18n.ts';

type T = ReturnType<typeof translator>;

/**
 * The words of the data shown to a person, through the labels: a status, an audit action, an
 * audit subject, an activity. A value with no label shows as its key with the family's prefix
 * (`status_foo`), which the zh render test (test/firstday.test.ts) catches.
 */
export const statusWord = (t: T, status: string | null | undefined) => (status ? t(`status_${status}`) : '');
export const actionWord = (t: T, action: string) => t(`action_${action}`);
export const subjectWord = (t: T, subject: string) => t(`subject_${subject}`);
export const activityWord = (t: T, activity: string) => t(`activity_${activity}`);

/** An instant on a page: Asia/Shanghai wall time with its zone (empty for none). */
export const when = (at: Date | string | number | null | undefined) => (at === null || at === undefined || at === '' ? '' : formatShanghai(at));
