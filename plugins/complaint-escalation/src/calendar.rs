//! Business-day and calendar-day arithmetic on timestamps, in a fixed UTC
//! offset, with configurable working days and holidays.

use std::collections::BTreeSet;

use switchboard_sdk::types::Timestamp;

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Parse `YYYY-MM-DD` into days since the epoch.
pub fn parse_date(s: &str) -> Result<i64, String> {
    let bad = || format!("holiday {s:?} is not a date YYYY-MM-DD");
    let mut parts = s.trim().split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let y: i64 = y.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    let d: u32 = d.parse().map_err(|_| bad())?;
    let days_in_month = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if d == 0 || d > days_in_month {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d))
}

/// 0 = Monday ... 6 = Sunday. 1970-01-01 was a Thursday.
pub fn weekday(day: i64) -> u8 {
    // `rem_euclid(7)` is 0..=6, so the cast cannot truncate.
    (day + 3).rem_euclid(7) as u8
}

/// A working calendar: a UTC offset, the working weekdays and holidays.
#[derive(Debug, Clone)]
pub struct Calendar {
    offset_ms: i64,
    working: [bool; 7],
    holidays: BTreeSet<i64>,
}

impl Calendar {
    /// `working`: weekday numbers 0 (Monday) to 6 (Sunday).
    pub fn new(
        utc_offset_minutes: i32,
        working: &[u8],
        holidays: &[String],
    ) -> Result<Self, String> {
        let mut w = [false; 7];
        for &d in working {
            *w.get_mut(usize::from(d))
                .ok_or_else(|| format!("weekday {d} is not 0-6"))? = true;
        }
        if !w.contains(&true) {
            return Err("business_days must name at least one day".into());
        }
        Ok(Calendar {
            offset_ms: i64::from(utc_offset_minutes) * 60_000,
            working: w,
            holidays: holidays
                .iter()
                .map(|h| parse_date(h))
                .collect::<Result<_, _>>()?,
        })
    }

    fn is_business(&self, day: i64) -> bool {
        self.working[usize::from(weekday(day))] && !self.holidays.contains(&day)
    }

    /// `n` business days after `t`, keeping the local time of day. A start
    /// on a non-business day counts from 00:00 of the next business day.
    /// With `end_of_day`, the end (24:00 local) of the day reached.
    pub fn add_business_days(&self, t: Timestamp, n: u32, end_of_day: bool) -> Timestamp {
        let local = t.saturating_add(self.offset_ms);
        let mut day = local.div_euclid(DAY_MS);
        let mut time = local.rem_euclid(DAY_MS);
        // Bounded: at most ~10 years of holidays in a row are skipped.
        let mut guard = 0;
        let mut next_business = |day: &mut i64| {
            while !self.is_business(*day) && guard < 3_660 {
                *day += 1;
                guard += 1;
            }
        };
        if !self.is_business(day) {
            next_business(&mut day);
            time = 0;
        }
        for _ in 0..n {
            day += 1;
            next_business(&mut day);
        }
        let due_local = if end_of_day {
            (day + 1) * DAY_MS
        } else {
            day * DAY_MS + time
        };
        due_local.saturating_sub(self.offset_ms)
    }

    /// `n` calendar days after `t`; with `end_of_day`, the end (24:00
    /// local) of that day.
    pub fn add_calendar_days(&self, t: Timestamp, n: u32, end_of_day: bool) -> Timestamp {
        let due = t.saturating_add(i64::from(n) * DAY_MS);
        if !end_of_day {
            return due;
        }
        let local = due.saturating_add(self.offset_ms);
        (local.div_euclid(DAY_MS) + 1) * DAY_MS - self.offset_ms
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// 2026-01-05T09:00:00Z, a Monday.
    const MON_9: i64 = 1_767_603_600_000;

    fn cal(holidays: &[&str]) -> Calendar {
        let h: Vec<String> = holidays.iter().map(|s| s.to_string()).collect();
        Calendar::new(0, &[0, 1, 2, 3, 4], &h).unwrap()
    }

    #[test]
    fn dates_and_weekdays() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(parse_date("2026-01-05").unwrap(), MON_9 / DAY_MS);
        assert_eq!(weekday(MON_9 / DAY_MS), 0);
        assert_eq!(weekday(0), 3, "a Thursday");
        assert!(parse_date("2026-02-29").is_err());
        assert!(parse_date("2024-02-29").is_ok());
        assert!(parse_date("2026-13-01").is_err());
        assert!(parse_date("26-1").is_err());
    }

    #[test]
    fn business_days_skip_weekends_and_holidays() {
        let c = cal(&[]);
        assert_eq!(c.add_business_days(MON_9, 1, false), MON_9 + DAY_MS);
        let fri_9 = MON_9 + 4 * DAY_MS;
        assert_eq!(c.add_business_days(fri_9, 1, false), MON_9 + 7 * DAY_MS);
        // Saturday counts from Monday 00:00.
        let sat_10 = MON_9 + 5 * DAY_MS + 3_600_000;
        let mon_0 = MON_9 + 7 * DAY_MS - 9 * 3_600_000;
        assert_eq!(c.add_business_days(sat_10, 1, false), mon_0 + DAY_MS);
        // Tuesday a holiday: Monday + 1 = Wednesday.
        let c = cal(&["2026-01-06"]);
        assert_eq!(c.add_business_days(MON_9, 1, false), MON_9 + 2 * DAY_MS);
        // End of day: Tuesday 24:00.
        assert_eq!(
            cal(&[]).add_business_days(MON_9, 1, true),
            MON_9 - 9 * 3_600_000 + 2 * DAY_MS
        );
        assert_eq!(c.add_business_days(MON_9, 0, false), MON_9);
    }

    #[test]
    fn offsets_move_the_local_day() {
        // Sydney +10:00: Friday 20:00 UTC is Saturday 06:00 local.
        let c = Calendar::new(600, &[0, 1, 2, 3, 4], &[]).unwrap();
        let fri_20 = MON_9 + 4 * DAY_MS + 11 * 3_600_000;
        // From Monday 00:00 local (Sunday 14:00 UTC) + 1 = Tuesday 00:00 local.
        let tue_0_local = MON_9 + 7 * DAY_MS - 9 * 3_600_000 + DAY_MS - 10 * 3_600_000;
        assert_eq!(c.add_business_days(fri_20, 1, false), tue_0_local);
    }

    #[test]
    fn calendar_days() {
        let c = cal(&[]);
        assert_eq!(c.add_calendar_days(MON_9, 30, false), MON_9 + 30 * DAY_MS);
        assert_eq!(
            c.add_calendar_days(MON_9, 30, true),
            MON_9 - 9 * 3_600_000 + 31 * DAY_MS
        );
    }

    #[test]
    fn no_working_day_is_an_error() {
        assert!(Calendar::new(0, &[], &[]).is_err());
        assert!(Calendar::new(0, &[7], &[]).is_err());
    }
}
