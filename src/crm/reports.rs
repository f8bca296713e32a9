//! [`Crm`]'s analytics queries: a merchant's report from its sale lines
//! and reviews, and the zone demand forecast for the dispatcher. Reads
//! only; the pure figures are [`analytics`](super::analytics)'.

use super::analytics::{self, DAYS_MAX, HORIZON_HOURS_MAX, Report, ZoneForecast};
use super::service::check_id;
use super::{Crm, CrmError};

impl Crm {
    /// A merchant's report over the `days` before `now_secs` (today
    /// included).
    pub fn analytics(&self, merchant: &str, now_secs: i64, days: i64) -> Result<Report, CrmError> {
        check_id("merchant", merchant)?;
        let days = check_days(days)?;
        // Sale lines are filed by UTC day; the city's days overlap one
        // more on either side, and the report keeps the local ones.
        let today = self.city.day(now_secs);
        let sales = self.store().sales(merchant, today - days, today + 1)?;
        let from_secs = self.city.day_start_secs(today - days + 1);
        let ratings: Vec<(String, u8)> = self
            .reviews(from_secs, now_secs + 1, |r| r.submitted.merchant == merchant)?
            .into_iter()
            .filter_map(|r| Some((r.submitted.rider?, r.submitted.rating?)))
            .collect();
        Ok(analytics::report(&self.city, &sales, &ratings, now_secs, days))
    }

    /// Orders expected per zone for each of the next `horizon_hours`, from
    /// the same hours of the `days` before today.
    pub fn demand_forecast(
        &self,
        now_secs: i64,
        days: i64,
        horizon_hours: u32,
    ) -> Result<Vec<ZoneForecast>, CrmError> {
        let days = check_days(days)?;
        if !(1..=HORIZON_HOURS_MAX).contains(&horizon_hours) {
            return Err(CrmError::BadField {
                field: "hours".into(),
                reason: format!("1 to {HORIZON_HOURS_MAX}"),
            });
        }
        let today = self.city.day(now_secs);
        let demand = self.store().demand(today - days - 1, today)?;
        Ok(analytics::forecast(
            &self.city,
            &demand,
            now_secs,
            days,
            horizon_hours,
        ))
    }
}

fn check_days(days: i64) -> Result<i64, CrmError> {
    if (1..=DAYS_MAX).contains(&days) {
        Ok(days)
    } else {
        Err(CrmError::BadField {
            field: "days".into(),
            reason: format!("1 to {DAYS_MAX}"),
        })
    }
}
