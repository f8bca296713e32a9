//! Civil time is the city's: meal times, birthdays, member days, opening
//! hours and analytics hours are local to the city's IANA time zone
//! (`[city] time_zone`), never UTC. `CityTime` turns the one clock's Unix
//! seconds into the city's days, hours and dates (jiff and its bundled
//! time-zone database, so a machine without /usr/share/zoneinfo agrees).

use jiff::tz::TimeZone;
use jiff::{Timestamp, civil::Date};

use super::Secs;

const DAY_SECS: i64 = 86_400;

/// A time zone name jiff does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown time zone {name:?} (an IANA name such as Europe/Monaco or Asia/Shanghai)")]
pub struct UnknownZone {
    pub name: String,
    #[source]
    source: jiff::Error,
}

/// The city's time zone.
#[derive(Debug, Clone)]
pub struct CityTime {
    name: String,
    zone: TimeZone,
}

impl Default for CityTime {
    fn default() -> Self {
        Self::utc()
    }
}

impl PartialEq for CityTime {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl CityTime {
    pub fn new(iana_name: &str) -> Result<Self, UnknownZone> {
        let zone = TimeZone::get(iana_name).map_err(|source| UnknownZone {
            name: iana_name.to_string(),
            source,
        })?;
        Ok(Self {
            name: iana_name.to_string(),
            zone,
        })
    }

    /// Coordinated universal time: benchmark days and tests that want it.
    pub fn utc() -> Self {
        Self {
            name: "UTC".into(),
            zone: TimeZone::UTC,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Seconds on the city's wall clock at `unix_secs` (its offset added),
    /// so that whole days and hours of it are local ones.
    pub fn local_secs(&self, unix_secs: Secs) -> Secs {
        let offset = Timestamp::from_second(unix_secs).map_or(0, |t| self.zone.to_offset(t).seconds());
        unix_secs + i64::from(offset)
    }

    /// The city's day number (days since 1970-01-01, local).
    pub fn day(&self, unix_secs: Secs) -> i64 {
        self.local_secs(unix_secs).div_euclid(DAY_SECS)
    }

    /// The hour of the city's day, 0-23.
    pub fn hour(&self, unix_secs: Secs) -> u8 {
        (self.local_secs(unix_secs).rem_euclid(DAY_SECS) / 3600) as u8
    }

    /// (year, month 1-12, day 1-31) in the city.
    pub fn date(&self, unix_secs: Secs) -> (i64, u8, u8) {
        days_to_civil(self.day(unix_secs))
    }

    /// Unix seconds of the first instant of the city's day `day` (its
    /// midnight, or the first hour after a gap at midnight).
    pub fn day_start_secs(&self, day: i64) -> Secs {
        let (y, m, d) = days_to_civil(day);
        let start = i16::try_from(y)
            .ok()
            .and_then(|y| Date::new(y, m as i8, d as i8).ok())
            .and_then(|date| date.to_zoned_datetime(self.zone.clone()).ok());
        start.map_or(day * DAY_SECS, |z| z.timestamp().as_second())
    }
}

/// (year, month 1-12, day 1-31) of a day number (Howard Hinnant's
/// days-to-civil algorithm, proleptic Gregorian).
pub fn days_to_civil(day: i64) -> (i64, u8, u8) {
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(days_to_civil(0), (1970, 1, 1));
        assert_eq!(days_to_civil(-1), (1969, 12, 31));
        // 2000-02-29: a leap day in a century leap year.
        assert_eq!(days_to_civil(951_825_600 / DAY_SECS), (2000, 2, 29));
    }

    #[test]
    fn shanghai_is_eight_hours_ahead_and_monaco_keeps_summer_time() {
        // 2026-11-22 23:00 UTC is the 23rd, 07:00 in Shanghai.
        let t = 1_795_388_400;
        let shanghai = CityTime::new("Asia/Shanghai").unwrap();
        assert_eq!(CityTime::utc().date(t), (2026, 11, 22));
        assert_eq!(shanghai.date(t), (2026, 11, 23));
        assert_eq!(shanghai.hour(t), 7);
        // 15 July 2026 10:00 UTC is noon in Monaco (CEST, +2); 15 January
        // 10:00 UTC is 11:00 (CET, +1).
        let monaco = CityTime::new("Europe/Monaco").unwrap();
        assert_eq!(monaco.hour(1_784_109_600), 12);
        assert_eq!(monaco.hour(1_768_471_200), 11);
        // Local midnight of Shanghai's 23 November is 16:00 UTC the 22nd.
        let day = shanghai.day(t);
        assert_eq!(shanghai.day_start_secs(day), 1_795_388_400 - 7 * 3600);
        assert_eq!(shanghai.day(shanghai.day_start_secs(day)), day);
        assert_eq!(shanghai.day(shanghai.day_start_secs(day) - 1), day - 1);
    }

    #[test]
    fn an_unknown_zone_is_named() {
        let e = CityTime::new("Mars/Olympus").unwrap_err();
        assert!(e.to_string().contains("Mars/Olympus"));
    }
}
