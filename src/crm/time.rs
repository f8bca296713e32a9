//! Calendar arithmetic on Unix seconds (UTC): birthdays and yearly keys
//! need a civil date. The time itself always comes in as `now_secs`, from
//! the one clock (`base::Clock`).

/// (year, month 1-12, day 1-31) of a Unix time, UTC.
pub fn civil(unix_secs: i64) -> (i64, u8, u8) {
    // Howard Hinnant's days-to-civil algorithm.
    let z = unix_secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        // 2000-02-29 12:00 UTC: a leap day in a century leap year.
        assert_eq!(civil(951_825_600), (2000, 2, 29));
        // 2026-11-22 23:00 UTC.
        assert_eq!(civil(1_795_388_400), (2026, 11, 22));
        assert_eq!(civil(-1), (1969, 12, 31));
    }
}
