//! The embedded (redb) store, by area: customers: their documents, points ledger, the indexes the jobs walk, and reviews.

use super::*;

impl CustomerStore for EmbeddedStore {
    fn load(&self, requests: &[(&str, &str)]) -> Result<Vec<Loaded>, StoreError> {
        let raw: Vec<(Option<String>, Option<String>)> = self.read(|tx| {
            let customers = tx.open_table(CUSTOMERS)?;
            let idem = tx.open_table(IDEM)?;
            requests
                .iter()
                .map(|(c, k)| {
                    let row = customers.get(*c)?.map(|g| g.value().to_string());
                    let prior = idem.get((*c, *k))?.map(|g| g.value().to_string());
                    Ok((row, prior))
                })
                .collect()
        })?;
        requests
            .iter()
            .zip(raw)
            .map(|((customer, _), (row, prior))| {
                let Some(row) = row else {
                    return Ok(Loaded {
                        version: 0,
                        prior,
                        raw: Docs::default(),
                    });
                };
                let (version, profile, account, wallet, _) = self.row(customer, &row)?;
                let raw = Docs {
                    profile,
                    account,
                    wallet,
                };
                Ok(Loaded { version, prior, raw })
            })
            .collect()
    }

    fn commit(&self, commits: &[Commit]) -> Result<Vec<Committed>, StoreError> {
        if commits.is_empty() {
            return Ok(Vec::new());
        }
        let rows: Result<Vec<Result<Committed, StoreError>>, StoreError> = self.write(|tx| {
            let mut customers = tx.open_table(CUSTOMERS)?;
            let mut ledger = tx.open_table(LEDGER)?;
            let mut idem = tx.open_table(IDEM)?;
            let mut merchants = tx.open_table(MERCHANTS)?;
            let mut birthdays = tx.open_table(BIRTHDAYS)?;
            let mut expiry = tx.open_table(EXPIRY)?;
            let mut expiry_of = tx.open_table(EXPIRY_OF)?;
            let mut reviews = tx.open_table(REVIEWS)?;
            let mut facts = tx.open_table(FACTS)?;
            let mut redeemed = tx.open_table(REDEEMED)?;
            let mut sales = tx.open_table(SALES)?;
            let mut demand = tx.open_table(DEMAND)?;
            let mut out = Vec::with_capacity(commits.len());
            for c in commits {
                let customer = c.customer.as_str();
                if let Some(prior) = idem.get((customer, c.key.as_str()))? {
                    out.push(Ok(Committed::Replayed(prior.value().to_string())));
                    continue;
                }
                let old = customers.get(customer)?.map(|g| g.value().to_string());
                let (version, old_docs, ledger_len) = match old.map(|t| self.row(customer, &t)) {
                    None => (0, Docs::default(), 0),
                    Some(Ok((v, profile, account, wallet, n))) => (
                        v,
                        Docs {
                            profile,
                            account,
                            wallet,
                        },
                        n,
                    ),
                    Some(Err(e)) => {
                        out.push(Err(e));
                        continue;
                    }
                };
                if version != c.expected_version {
                    out.push(Ok(Committed::Conflict));
                    continue;
                }
                let pick = |new: &Option<String>, old: String| new.clone().unwrap_or(old);
                let len = ledger_len + c.entries.len() as u64;
                let row: Row = (
                    version + 1,
                    pick(&c.docs.profile, old_docs.profile),
                    pick(&c.docs.account, old_docs.account),
                    pick(&c.docs.wallet, old_docs.wallet),
                    len,
                );
                customers.insert(customer, to_json(&row).as_str())?;
                for (i, e) in c.entries.iter().enumerate() {
                    ledger.insert((customer, ledger_len + i as u64), to_json(e).as_str())?;
                }
                idem.insert((customer, c.key.as_str()), c.stored.as_str())?;
                for hint in &c.index {
                    match hint {
                        IndexHint::Merchant(m) => {
                            merchants.insert((m.as_str(), customer), 1)?;
                        }
                        IndexHint::Birthday(label) => {
                            birthdays.insert((label.as_str(), customer), 1)?;
                        }
                        IndexHint::Expiry(at) => {
                            let before = expiry_of.get(customer)?.map(|g| g.value());
                            if let Some(b) = before {
                                expiry.remove((b, customer))?;
                                expiry_of.remove(customer)?;
                            }
                            if let Some(at) = at {
                                expiry.insert((*at, customer), 1)?;
                                expiry_of.insert(customer, *at)?;
                            }
                        }
                        IndexHint::Review(r) => {
                            reviews.insert((r.at_secs, r.id.as_str()), to_json(r).as_str())?;
                        }
                        IndexHint::Sale(s) => {
                            let day = s.at_secs.div_euclid(86_400);
                            sales
                                .insert((s.merchant.as_str(), day, s.order.as_str()), to_json(s).as_str())?;
                            if let Some(line) = demand_line(s) {
                                let key = format!("{}/{}", s.merchant, s.order);
                                demand.insert((day, key.as_str()), line.as_str())?;
                            }
                        }
                        IndexHint::Redeemed { campaign, coupon } => {
                            redeemed.insert((campaign.as_str(), coupon.as_str()), 1)?;
                        }
                    }
                }
                facts.insert(customer, c.facts.encode().as_str())?;
                out.push(Ok(Committed::Done(version + 1)));
            }
            Ok(out)
        });
        rows?.into_iter().collect()
    }

    fn ledger(&self, customer: &str, offset: u64, limit: usize) -> Result<Vec<Entry>, StoreError> {
        let texts: Vec<String> = self.read(|tx| {
            let t = tx.open_table(LEDGER)?;
            t.range((customer, offset)..=(customer, u64::MAX))?
                .take(limit)
                .map(|r| r.map(|(_, v)| v.value().to_string()).map_err(redb::Error::from))
                .collect()
        })?;
        texts.iter().map(|t| parse_entry(customer, t)).collect()
    }

    fn customers_of(&self, merchant: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        self.read(|tx| {
            let t = tx.open_table(MERCHANTS)?;
            t.range((merchant, "")..)?
                .take_while(|r| r.as_ref().map_or(true, |(k, _)| k.value().0 == merchant))
                .take(limit)
                .map(|r| r.map(|(k, _)| k.value().1.to_string()).map_err(redb::Error::from))
                .collect()
        })
    }

    fn born_on(&self, label: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        self.read(|tx| {
            let t = tx.open_table(BIRTHDAYS)?;
            t.range((label, "")..)?
                .take_while(|r| r.as_ref().map_or(true, |(k, _)| k.value().0 == label))
                .take(limit)
                .map(|r| r.map(|(k, _)| k.value().1.to_string()).map_err(redb::Error::from))
                .collect()
        })
    }

    fn expiring(&self, secs: i64, limit: usize) -> Result<Vec<String>, StoreError> {
        self.read(|tx| {
            let t = tx.open_table(EXPIRY)?;
            t.range((i64::MIN, "")..)?
                .take_while(|r| r.as_ref().map_or(true, |(k, _)| k.value().0 <= secs))
                .take(limit)
                .map(|r| r.map(|(k, _)| k.value().1.to_string()).map_err(redb::Error::from))
                .collect()
        })
    }

    fn reviews(&self, from_secs: i64, to_secs: i64, limit: usize) -> Result<Vec<Review>, StoreError> {
        let texts: Vec<String> = self.read(|tx| {
            let t = tx.open_table(REVIEWS)?;
            t.range((from_secs, "")..)?
                .take_while(|r| r.as_ref().map_or(true, |(k, _)| k.value().0 < to_secs))
                .take(limit)
                .map(|r| r.map(|(_, v)| v.value().to_string()).map_err(redb::Error::from))
                .collect()
        })?;
        texts.iter().map(|t| parse_doc("review", t)).collect()
    }
}
