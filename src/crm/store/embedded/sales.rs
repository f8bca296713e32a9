//! The embedded (redb) store, by area: sale lines and zone demand for analytics.

use super::*;

impl SalesStore for EmbeddedStore {
    fn sales(&self, merchant: &str, from_day: i64, to_day: i64) -> Result<Vec<Sale>, StoreError> {
        let texts: Vec<String> = self.read(|tx| {
            let t = tx.open_table(SALES)?;
            t.range((merchant, from_day, "")..(merchant, to_day.saturating_add(1), ""))?
                .map(|r| r.map(|(_, v)| v.value().to_string()).map_err(redb::Error::from))
                .collect()
        })?;
        texts
            .iter()
            .map(|t| parse_doc(&format!("sale of {merchant}"), t))
            .collect()
    }

    fn demand(&self, from_day: i64, to_day: i64) -> Result<Vec<(String, i64, u64)>, StoreError> {
        let lines: Vec<String> = self.read(|tx| {
            let t = tx.open_table(DEMAND)?;
            t.range((from_day, "")..(to_day.saturating_add(1), ""))?
                .map(|r| r.map(|(_, v)| v.value().to_string()).map_err(redb::Error::from))
                .collect()
        })?;
        Ok(count_demand(lines.into_iter()))
    }
}
