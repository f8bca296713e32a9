//! The Redis store, by area: marketing: customer facts for segments, campaigns, their members and redemptions, and the merchant outbox.

use super::*;

impl MarketingStore for RedisStore {
    fn scan_facts(&self, visit: &FactsVisitor) -> Result<(), StoreError> {
        use rayon::prelude::*;
        (0..FACT_SHARDS).into_par_iter().try_for_each(|shard| {
            let mut pipe = Batch::new();
            // Values carry their customer id: half the strings to parse.
            pipe.cmd("HVALS").arg(self.facts_key(shard));
            let (values,): (Vec<String>,) = self.run(&pipe)?;
            let pairs = values
                .into_iter()
                .map(|mut v| match v.find('\t') {
                    Some(tab) => {
                        let facts = v.split_off(tab + 1);
                        v.truncate(tab);
                        (v, facts)
                    }
                    // Damaged: no customer to name; decoding reports it.
                    None => (String::new(), v),
                })
                .collect();
            visit(pairs)
        })
    }

    fn facts_of(&self, customers: &[&str]) -> Result<Vec<Option<Facts>>, StoreError> {
        if customers.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = Batch::new();
        for c in customers {
            pipe.cmd("HGET").arg(self.facts_key(fact_shard(c))).arg(*c);
        }
        let texts: Vec<Option<String>> = self.run(&pipe)?;
        texts
            .iter()
            .zip(customers)
            .map(|(t, c)| {
                t.as_deref()
                    .map(|t| decode_facts(c, t.split_once('\t').map_or(t, |(_, f)| f)))
                    .transpose()
            })
            .collect()
    }

    fn put_campaign(&self, campaign: &Campaign) -> Result<(), StoreError> {
        let mut pipe = Batch::new();
        pipe.cmd("HSET")
            .arg(self.campaigns_key())
            .arg(&campaign.spec.id)
            .arg(to_json(campaign))
            .ignore();
        self.run(&pipe)
    }

    fn campaign(&self, id: &str) -> Result<Option<Campaign>, StoreError> {
        let mut pipe = Batch::new();
        pipe.cmd("HGET").arg(self.campaigns_key()).arg(id);
        let (text,): (Option<String>,) = self.run(&pipe)?;
        text.map(|t| parse_doc(&format!("campaign {id}"), &t)).transpose()
    }

    fn campaigns(&self, merchant: &str) -> Result<Vec<Campaign>, StoreError> {
        let mut pipe = Batch::new();
        pipe.cmd("HGETALL").arg(self.campaigns_key());
        let (pairs,): (Vec<(String, String)>,) = self.run(&pipe)?;
        let mut all: Vec<Campaign> = pairs
            .iter()
            .map(|(id, t)| parse_doc::<Campaign>(&format!("campaign {id}"), t))
            .filter(|c| c.as_ref().map_or(true, |c| c.merchant == merchant))
            .collect::<Result<_, _>>()?;
        all.sort_by(|a, b| a.spec.id.cmp(&b.spec.id));
        Ok(all)
    }

    fn put_members(&self, campaign: &str, members: &[(String, Member)]) -> Result<(), StoreError> {
        for chunk in members.chunks(10_000) {
            let mut pipe = Batch::new();
            pipe.cmd("HSET").arg(self.campaign_key(campaign, "members"));
            for (customer, m) in chunk {
                pipe.arg(customer).arg(to_json(m));
            }
            pipe.ignore();
            let () = self.run(&pipe)?;
        }
        Ok(())
    }

    fn clear_members(&self, campaign: &str) -> Result<(), StoreError> {
        let mut pipe = Batch::new();
        pipe.cmd("DEL")
            .arg(self.campaign_key(campaign, "members"))
            .ignore();
        self.run(&pipe)
    }

    fn members(&self, campaign: &str) -> Result<Vec<(String, Member)>, StoreError> {
        let mut pipe = Batch::new();
        pipe.cmd("HGETALL").arg(self.campaign_key(campaign, "members"));
        let (pairs,): (Vec<(String, String)>,) = self.run(&pipe)?;
        let mut members: Vec<(String, Member)> = pairs
            .into_iter()
            .map(|(c, t)| Ok((c, parse_doc(&format!("member of campaign {campaign}"), &t)?)))
            .collect::<Result<_, StoreError>>()?;
        members.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(members)
    }

    fn redemptions(&self, campaign: &str) -> Result<u64, StoreError> {
        let mut pipe = Batch::new();
        pipe.cmd("SCARD").arg(self.campaign_key(campaign, "redeemed"));
        let (n,): (u64,) = self.run(&pipe)?;
        Ok(n)
    }

    fn outbox_append(&self, merchant: &str, messages: &[Message]) -> Result<usize, StoreError> {
        let mut added = 0;
        for chunk in messages.chunks(1000) {
            let mut pipe = Batch::new();
            pipe.cmd("EVALSHA")
                .arg(&self.outbox_sha)
                .arg(3)
                .arg(self.outbox_key(merchant, "ids"))
                .arg(self.outbox_key(merchant, "log"))
                .arg(self.outbox_key(merchant, "seq"));
            for m in chunk {
                pipe.arg(&m.id).arg(to_json(m));
            }
            let (n,): (usize,) = self.run(&pipe)?;
            added += n;
        }
        Ok(added)
    }

    fn outbox(&self, merchant: &str, after_seq: u64, limit: usize) -> Result<Vec<Message>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut pipe = Batch::new();
        pipe.cmd("ZRANGEBYSCORE")
            .arg(self.outbox_key(merchant, "log"))
            .arg(format!("({after_seq}"))
            .arg("+inf")
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(limit);
        let (pairs,): (Vec<(String, u64)>,) = self.run(&pipe)?;
        pairs
            .iter()
            .map(|(t, seq)| {
                let mut m: Message = parse_doc(&format!("outbox message {seq} of {merchant}"), t)?;
                m.seq = *seq;
                Ok(m)
            })
            .collect()
    }

    fn outbox_ack(&self, merchant: &str, upto_seq: u64) -> Result<u64, StoreError> {
        let mut pipe = Batch::new();
        pipe.cmd("ZREMRANGEBYSCORE")
            .arg(self.outbox_key(merchant, "log"))
            .arg("-inf")
            .arg(upto_seq);
        let (n,): (u64,) = self.run(&pipe)?;
        Ok(n)
    }
}
