//! The Redis store, by area: customers: their documents, points ledger, the indexes the jobs walk, and reviews.

use super::*;

impl CustomerStore for RedisStore {
    fn load(&self, requests: &[(&str, &str)]) -> Result<Vec<Loaded>, StoreError> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = Batch::new();
        for (customer, key) in requests {
            let [meta, idem, profile, account, wallet, _] = self.customer_keys(customer);
            pipe.cmd("EVALSHA")
                .arg(&self.load_sha)
                .arg(5)
                .arg(meta)
                .arg(idem)
                .arg(profile)
                .arg(account)
                .arg(wallet)
                .arg(*key);
        }
        let replies: Vec<Vec<Value>> = self.run(&pipe)?;
        requests
            .iter()
            .zip(replies)
            .map(|((customer, _), reply)| {
                let [v, prior, profile, account, wallet]: [String; 5] = reply
                    .iter()
                    .map(text)
                    .collect::<Vec<_>>()
                    .try_into()
                    .map_err(|_| StoreError::Corrupt {
                        what: format!("customer {customer}"),
                        reason: "load script answered a different shape".into(),
                    })?;
                let version = v.parse().map_err(|_| StoreError::Corrupt {
                    what: format!("customer {customer} version"),
                    reason: format!("{v:?} is not a number"),
                })?;
                let raw = Docs {
                    profile,
                    account,
                    wallet,
                };
                Ok(Loaded {
                    version,
                    prior: (!prior.is_empty()).then_some(prior),
                    raw,
                })
            })
            .collect()
    }

    fn commit(&self, commits: &[Commit]) -> Result<Vec<Committed>, StoreError> {
        if commits.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = Batch::new();
        for c in commits {
            let docs = &c.docs;
            pipe.cmd("EVALSHA")
                .arg(&self.commit_sha)
                .arg(6)
                .arg(&self.customer_keys(&c.customer))
                .arg(c.expected_version)
                .arg(&c.key)
                .arg(&c.stored)
                .arg(docs.profile.as_deref().unwrap_or(""))
                .arg(docs.account.as_deref().unwrap_or(""))
                .arg(docs.wallet.as_deref().unwrap_or(""));
            for e in &c.entries {
                pipe.arg(to_json(e));
            }
        }
        let replies: Vec<Vec<Value>> = self.run(&pipe)?;
        let committed: Vec<Committed> = replies
            .iter()
            .map(|r| {
                let word = r.first().map(text).unwrap_or_default();
                let arg = r.get(1).map(text).unwrap_or_default();
                match word.as_str() {
                    "committed" => Committed::Done(arg.parse().unwrap_or(0)),
                    "replayed" => Committed::Replayed(arg),
                    _ => Committed::Conflict,
                }
            })
            .collect();
        let mut hints = Batch::new();
        let mut any = false;
        for (c, done) in commits.iter().zip(&committed) {
            if matches!(done, Committed::Done(_)) {
                any = true;
                for hint in &c.index {
                    self.add_index(&mut hints, &c.customer, hint);
                }
                hints
                    .cmd("HSET")
                    .arg(self.facts_key(fact_shard(&c.customer)))
                    .arg(&c.customer)
                    .arg(format!("{}\t{}", c.customer, c.facts.encode()))
                    .ignore();
            }
        }
        if any {
            let () = self.run(&hints)?;
        }
        Ok(committed)
    }

    fn ledger(&self, customer: &str, offset: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut pipe = Batch::new();
        pipe.cmd("LRANGE")
            .arg(self.key(customer, "ledger"))
            .arg(offset)
            .arg(offset + limit as u64 - 1);
        let (lines,): (Vec<String>,) = self.run(&pipe)?;
        lines.iter().map(|l| parse_entry(customer, l)).collect()
    }

    fn customers_of(&self, merchant: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut pipe = Batch::new();
        pipe.cmd("SMEMBERS").arg(self.merchant_key(merchant));
        let (mut ids,): (Vec<String>,) = self.run(&pipe)?;
        ids.sort();
        ids.truncate(limit);
        Ok(ids)
    }

    fn born_on(&self, label: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut pipe = Batch::new();
        pipe.cmd("SMEMBERS").arg(self.birthday_key(label));
        let (mut ids,): (Vec<String>,) = self.run(&pipe)?;
        ids.sort();
        ids.truncate(limit);
        Ok(ids)
    }

    fn expiring(&self, secs: i64, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut pipe = Batch::new();
        pipe.cmd("ZRANGEBYSCORE")
            .arg(self.expiry_key())
            .arg("-inf")
            .arg(secs)
            .arg("LIMIT")
            .arg(0)
            .arg(limit);
        let (ids,): (Vec<String>,) = self.run(&pipe)?;
        Ok(ids)
    }

    fn reviews(&self, from_secs: i64, to_secs: i64, limit: usize) -> Result<Vec<Review>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut pipe = Batch::new();
        pipe.cmd("ZRANGE")
            .arg(self.reviews_by_time_key())
            .arg(from_secs)
            .arg(format!("({to_secs}"))
            .arg("BYSCORE")
            .arg("LIMIT")
            .arg(0)
            .arg(limit);
        let (ids,): (Vec<String>,) = self.run(&pipe)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = Batch::new();
        pipe.cmd("HMGET").arg(self.reviews_key()).arg(&ids);
        let (texts,): (Vec<Option<String>>,) = self.run(&pipe)?;
        texts.iter().flatten().map(|t| parse_doc("review", t)).collect()
    }
}
