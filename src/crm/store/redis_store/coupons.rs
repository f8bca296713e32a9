//! The Redis store, by area: coupon templates and their issue caps.

use super::*;

impl CouponStore for RedisStore {
    fn reserve_total(&self, template: &str, cap: u64) -> Result<bool, StoreError> {
        let mut pipe = Batch::new();
        pipe.cmd("EVALSHA")
            .arg(&self.reserve_sha)
            .arg(1)
            .arg(self.total_key(template))
            .arg(cap);
        let (ok,): (i64,) = self.run(&pipe)?;
        Ok(ok == 1)
    }

    fn release_total(&self, template: &str) -> Result<(), StoreError> {
        let mut pipe = Batch::new();
        pipe.cmd("DECR").arg(self.total_key(template)).ignore();
        let () = self.run(&pipe)?;
        Ok(())
    }

    fn total_used(&self, template: &str) -> Result<u64, StoreError> {
        let mut pipe = Batch::new();
        pipe.cmd("GET").arg(self.total_key(template));
        let (n,): (Option<u64>,) = self.run(&pipe)?;
        Ok(n.unwrap_or(0))
    }

    fn put_template(&self, template: &CouponTemplate) -> Result<(), StoreError> {
        let mut pipe = Batch::new();
        pipe.cmd("HSET")
            .arg(self.templates_key())
            .arg(&template.id)
            .arg(to_json(template))
            .ignore();
        let () = self.run(&pipe)?;
        Ok(())
    }

    fn templates(&self) -> Result<Vec<CouponTemplate>, StoreError> {
        let mut pipe = Batch::new();
        pipe.cmd("HVALS").arg(self.templates_key());
        let (texts,): (Vec<String>,) = self.run(&pipe)?;
        let mut all = texts
            .iter()
            .map(|t| parse_template(t))
            .collect::<Result<Vec<_>, _>>()?;
        all.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(all)
    }
}
