//! Calendar dates and UTC timestamps, without a time-zone database: what `plan` (due dates),
//! the rollout (soak) and the journal (`time`) need.
//!
//! "Now" is the clock, or `GILD_NOW` (`YYYY-MM-DDTHH:MM:SSZ`) to replay the past: never a time
//! later than the clock, so no one can satisfy a soak by setting it (the journal adds that a
//! replay never goes before its last line; see [`crate::journal::now`]).

use std::fmt;

use crate::error::Report;

/// A proleptic Gregorian calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Days since 1970-01-01.
    days: i64,
}

impl Date {
    /// `YYYY-MM-DD`.
    pub fn parse(s: &str) -> Option<Date> {
        let b = s.as_bytes();
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return None;
        }
        let num = |r: std::ops::Range<usize>| -> Option<i64> {
            let part = &s[r];
            part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
        };
        let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m as u32) {
            return None;
        }
        Some(Date { days: days_from_civil(y, m as u32, d as u32) })
    }

    /// The date of a TOML date or date-time (its local date; a TOML time alone has none).
    pub fn from_toml(dt: &toml::value::Datetime) -> Option<Date> {
        let d = dt.date?;
        let (y, m, day) = (i64::from(d.year), u32::from(d.month), u32::from(d.day));
        ((1..=12).contains(&m) && day >= 1 && i64::from(day) <= days_in_month(y, m))
            .then(|| Date { days: days_from_civil(y, m, day) })
    }

    pub fn to_toml(self) -> toml::value::Datetime {
        let (y, m, d) = civil_from_days(self.days);
        toml::value::Datetime {
            date: Some(toml::value::Date { year: y as u16, month: m as u8, day: d as u8 }),
            time: None,
            offset: None,
        }
    }

    pub fn add_days(self, n: i64) -> Date {
        Date { days: self.days + n }
    }

    /// `self - other` in days.
    pub fn days_since(self, other: Date) -> i64 {
        self.days - other.days
    }

    /// Today in UTC (or the date of `GILD_NOW`).
    pub fn today() -> Result<Date, Report> {
        Ok(Date { days: now()?.div_euclid(86400) })
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.days);
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

/// Seconds since the epoch: `GILD_NOW` when set (never later than the clock), else the clock.
pub fn now() -> Result<i64, Report> {
    let clock = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let Ok(s) = std::env::var("GILD_NOW") else { return Ok(clock) };
    let t = parse_timestamp(&s).ok_or_else(|| {
        Report::new(format!("`GILD_NOW={s}` is not a time")).help("write it as 2026-11-20T09:30:00Z, or unset it")
    })?;
    if t > clock {
        return Err(Report::new(format!("`GILD_NOW={s}` is later than the clock ({})", format_timestamp(clock)))
            .help("`GILD_NOW` replays the past; it cannot move time forward (unset it to use the clock)"));
    }
    Ok(t)
}

/// `YYYY-MM-DDTHH:MM:SSZ` (what the journal and `channels.toml` write).
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let (date, time) = s.split_once(['T', 't', ' '])?;
    let time = time.strip_suffix(['Z', 'z'])?;
    let date = Date::parse(date)?;
    let b = time.as_bytes();
    if b.len() != 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = &time[r];
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let (h, m, sec) = (num(0..2)?, num(3..5)?, num(6..8)?);
    if h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some(date.days * 86400 + h * 3600 + m * 60 + sec)
}

/// Seconds since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn format_timestamp(secs: i64) -> String {
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let date = Date { days };
    format!("{date}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: u32) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Howard Hinnant's civil-to-days conversion.
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's days-to-civil conversion.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_round_trip() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_414), (2025, 11, 22));
        for days in [-800_000, -1, 0, 59, 60, 11_016, 20_414, 100_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn dates_parse_strictly_and_count_days() {
        let d = |s| Date::parse(s).unwrap();
        assert_eq!(d("2026-11-25").days_since(d("2026-11-18")), 7);
        assert_eq!(d("2024-02-28").add_days(1).to_string(), "2024-02-29");
        assert_eq!(d("2026-12-31").add_days(1).to_string(), "2027-01-01");
        for bad in ["2026-02-29", "2026-13-01", "2026-1-01", "26-11-01", "2026-11-0x"] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps_round_trip() {
        let t = parse_timestamp("2026-11-23T15:40:18Z").unwrap();
        assert_eq!(format_timestamp(t), "2026-11-23T15:40:18Z");
        assert_eq!(parse_timestamp("2026-11-23T15:40:18"), None);
        assert_eq!(parse_timestamp("2026-11-23"), None);
    }
}
