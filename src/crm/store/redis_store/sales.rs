//! The Redis store, by area: sale lines and zone demand for analytics.

use super::*;

impl SalesStore for RedisStore {
    fn sales(&self, merchant: &str, from_day: i64, to_day: i64) -> Result<Vec<Sale>, StoreError> {
        let mut pipe = Batch::new();
        for day in from_day..=to_day {
            pipe.cmd("HVALS").arg(self.sales_key(merchant, day));
        }
        let days: Vec<Vec<String>> = self.run(&pipe)?;
        days.iter()
            .flatten()
            .map(|t| parse_doc(&format!("sale of {merchant}"), t))
            .collect()
    }

    fn demand(&self, from_day: i64, to_day: i64) -> Result<Vec<(String, i64, u64)>, StoreError> {
        let mut pipe = Batch::new();
        for day in from_day..=to_day {
            pipe.cmd("HVALS").arg(self.demand_key(day));
        }
        let days: Vec<Vec<String>> = self.run(&pipe)?;
        Ok(count_demand(days.into_iter().flatten()))
    }
}
