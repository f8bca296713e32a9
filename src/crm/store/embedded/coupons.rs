//! The embedded (redb) store, by area: coupon templates and their issue caps.

use super::*;

impl CouponStore for EmbeddedStore {
    fn reserve_total(&self, template: &str, cap: u64) -> Result<bool, StoreError> {
        self.write(|tx| {
            let mut t = tx.open_table(TOTALS)?;
            let n = t.get(template)?.map_or(0, |g| g.value());
            if n >= cap {
                return Ok(false);
            }
            t.insert(template, n + 1)?;
            Ok(true)
        })
    }

    fn release_total(&self, template: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut t = tx.open_table(TOTALS)?;
            let n = t.get(template)?.map_or(0, |g| g.value());
            t.insert(template, n.saturating_sub(1))?;
            Ok(())
        })
    }

    fn total_used(&self, template: &str) -> Result<u64, StoreError> {
        self.read(|tx| Ok(tx.open_table(TOTALS)?.get(template)?.map_or(0, |g| g.value())))
    }

    fn put_template(&self, template: &CouponTemplate) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.open_table(TEMPLATES)?
                .insert(template.id.as_str(), to_json(template).as_str())?;
            Ok(())
        })
    }

    fn templates(&self) -> Result<Vec<CouponTemplate>, StoreError> {
        let texts: Vec<String> = self.read(|tx| {
            tx.open_table(TEMPLATES)?
                .iter()?
                .map(|r| r.map(|(_, v)| v.value().to_string()).map_err(redb::Error::from))
                .collect()
        })?;
        texts.iter().map(|t| parse_template(t)).collect()
    }
}
