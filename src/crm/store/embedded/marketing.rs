//! The embedded (redb) store, by area: marketing: customer facts for segments, campaigns, their members and redemptions, and the merchant outbox.

use super::*;

impl MarketingStore for EmbeddedStore {
    fn scan_facts(&self, visit: &FactsVisitor) -> Result<(), StoreError> {
        const CHUNK: usize = 50_000;
        let (tx_out, rx) = std::sync::mpsc::sync_channel::<Vec<(String, String)>>(2);
        // Read on this thread, match on another: one read transaction.
        std::thread::scope(|s| {
            let matcher = s.spawn(move || rx.into_iter().try_for_each(visit));
            let read = self.read(|tx| {
                let t = tx.open_table(FACTS)?;
                let mut chunk = Vec::with_capacity(CHUNK);
                for r in t.iter()? {
                    let (k, v) = r?;
                    chunk.push((k.value().to_string(), v.value().to_string()));
                    if chunk.len() == CHUNK && tx_out.send(std::mem::take(&mut chunk)).is_err() {
                        break;
                    }
                }
                let _ = tx_out.send(chunk);
                Ok(())
            });
            drop(tx_out);
            let matched = matcher.join().unwrap_or_else(|_| {
                Err(StoreError::Corrupt {
                    what: "facts".into(),
                    reason: "the matching thread panicked".into(),
                })
            });
            read.and(matched)
        })
    }

    fn facts_of(&self, customers: &[&str]) -> Result<Vec<Option<Facts>>, StoreError> {
        let texts: Vec<Option<String>> = self.read(|tx| {
            let t = tx.open_table(FACTS)?;
            customers
                .iter()
                .map(|c| Ok(t.get(*c)?.map(|g| g.value().to_string())))
                .collect()
        })?;
        texts
            .iter()
            .zip(customers)
            .map(|(t, c)| t.as_deref().map(|t| decode_facts(c, t)).transpose())
            .collect()
    }

    fn put_campaign(&self, campaign: &Campaign) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut t = tx.open_table(CAMPAIGNS)?;
            t.insert(campaign.spec.id.as_str(), to_json(campaign).as_str())?;
            Ok(())
        })
    }

    fn campaign(&self, id: &str) -> Result<Option<Campaign>, StoreError> {
        let text = self.read(|tx| Ok(tx.open_table(CAMPAIGNS)?.get(id)?.map(|g| g.value().to_string())))?;
        text.map(|t| parse_doc(&format!("campaign {id}"), &t)).transpose()
    }

    fn campaigns(&self, merchant: &str) -> Result<Vec<Campaign>, StoreError> {
        let texts: Vec<(String, String)> = self.read(|tx| {
            let t = tx.open_table(CAMPAIGNS)?;
            t.iter()?
                .map(|r| {
                    r.map(|(k, v)| (k.value().to_string(), v.value().to_string()))
                        .map_err(redb::Error::from)
                })
                .collect()
        })?;
        texts
            .iter()
            .map(|(id, t)| parse_doc::<Campaign>(&format!("campaign {id}"), t))
            .filter(|c| c.as_ref().map_or(true, |c| c.merchant == merchant))
            .collect()
    }

    fn put_members(&self, campaign: &str, members: &[(String, Member)]) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut t = tx.open_table(MEMBERS)?;
            for (customer, m) in members {
                t.insert((campaign, customer.as_str()), to_json(m).as_str())?;
            }
            Ok(())
        })
    }

    fn clear_members(&self, campaign: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut t = tx.open_table(MEMBERS)?;
            let customers: Vec<String> = t
                .range((campaign, "")..)?
                .map(|r| r.map(|(k, _)| (k.value().0.to_string(), k.value().1.to_string())))
                .take_while(|r| r.as_ref().map_or(true, |(c, _)| c == campaign))
                .map(|r| r.map(|(_, customer)| customer).map_err(redb::Error::from))
                .collect::<Result<_, _>>()?;
            for c in &customers {
                t.remove((campaign, c.as_str()))?;
            }
            Ok(())
        })
    }

    fn members(&self, campaign: &str) -> Result<Vec<(String, Member)>, StoreError> {
        let texts: Vec<(String, String)> = self.read(|tx| {
            let t = tx.open_table(MEMBERS)?;
            t.range((campaign, "")..)?
                .map(|r| {
                    r.map(|(k, v)| {
                        (
                            k.value().0.to_string(),
                            k.value().1.to_string(),
                            v.value().to_string(),
                        )
                    })
                    .map_err(redb::Error::from)
                })
                .take_while(|r| r.as_ref().map_or(true, |(c, _, _)| c == campaign))
                .map(|r| r.map(|(_, customer, v)| (customer, v)))
                .collect()
        })?;
        texts
            .into_iter()
            .map(|(c, t)| Ok((c, parse_doc(&format!("member of campaign {campaign}"), &t)?)))
            .collect()
    }

    fn redemptions(&self, campaign: &str) -> Result<u64, StoreError> {
        self.read(|tx| {
            let t = tx.open_table(REDEEMED)?;
            let mut n = 0;
            for r in t.range((campaign, "")..)? {
                let (k, _) = r?;
                if k.value().0 != campaign {
                    break;
                }
                n += 1;
            }
            Ok(n)
        })
    }

    fn outbox_append(&self, merchant: &str, messages: &[Message]) -> Result<usize, StoreError> {
        self.write(|tx| {
            let mut log = tx.open_table(OUTBOX)?;
            let mut ids = tx.open_table(OUTBOX_IDS)?;
            let mut seqs = tx.open_table(OUTBOX_SEQ)?;
            let mut seq = seqs.get(merchant)?.map_or(0, |g| g.value());
            let mut added = 0;
            for m in messages {
                if ids.get((merchant, m.id.as_str()))?.is_some() {
                    continue;
                }
                seq += 1;
                ids.insert((merchant, m.id.as_str()), seq)?;
                log.insert((merchant, seq), to_json(m).as_str())?;
                added += 1;
            }
            seqs.insert(merchant, seq)?;
            Ok(added)
        })
    }

    fn outbox(&self, merchant: &str, after_seq: u64, limit: usize) -> Result<Vec<Message>, StoreError> {
        let texts: Vec<(u64, String)> = self.read(|tx| {
            let t = tx.open_table(OUTBOX)?;
            t.range((merchant, after_seq.saturating_add(1))..=(merchant, u64::MAX))?
                .take(limit)
                .map(|r| {
                    r.map(|(k, v)| (k.value().1, v.value().to_string()))
                        .map_err(redb::Error::from)
                })
                .collect()
        })?;
        texts
            .iter()
            .map(|(seq, t)| {
                let mut m: Message = parse_doc(&format!("outbox message {seq} of {merchant}"), t)?;
                m.seq = *seq;
                Ok(m)
            })
            .collect()
    }

    fn outbox_ack(&self, merchant: &str, upto_seq: u64) -> Result<u64, StoreError> {
        self.write(|tx| {
            let mut t = tx.open_table(OUTBOX)?;
            let seqs: Vec<u64> = t
                .range((merchant, 0)..=(merchant, upto_seq))?
                .map(|r| r.map(|(k, _)| k.value().1).map_err(redb::Error::from))
                .collect::<Result<_, _>>()?;
            for s in &seqs {
                t.remove((merchant, *s))?;
            }
            Ok(seqs.len() as u64)
        })
    }
}
