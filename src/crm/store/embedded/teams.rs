//! The embedded (redb) store, by area: account managers: teams, ownerships, their audit, and the access log of personal data.

use super::*;

impl TeamStore for EmbeddedStore {
    fn team(&self, merchant: &str) -> Result<(u64, Option<Team>), StoreError> {
        let text = self.read(|tx| {
            Ok(tx
                .open_table(TEAMS)?
                .get(merchant)?
                .map(|g| g.value().to_string()))
        })?;
        match text {
            None => Ok((0, None)),
            Some(t) => {
                let (v, team): (u64, Team) = parse_doc(&format!("team of {merchant}"), &t)?;
                Ok((v, Some(team)))
            }
        }
    }

    fn owners(&self, merchant: &str, customers: &[&str]) -> Result<Vec<Option<Ownership>>, StoreError> {
        let texts: Vec<Option<String>> = self.read(|tx| {
            let t = tx.open_table(OWNERS)?;
            customers
                .iter()
                .map(|c| Ok(t.get((merchant, *c))?.map(|g| g.value().to_string())))
                .collect()
        })?;
        texts
            .iter()
            .map(|t| t.as_deref().map(|t| parse_doc("ownership", t)).transpose())
            .collect()
    }

    fn owned_by(&self, merchant: &str, manager: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        self.read(|tx| {
            let t = tx.open_table(OWNED)?;
            t.range((merchant, manager, "")..)?
                .take_while(|r| {
                    r.as_ref()
                        .map_or(true, |(k, _)| k.value().0 == merchant && k.value().1 == manager)
                })
                .take(limit)
                .map(|r| r.map(|(k, _)| k.value().2.to_string()).map_err(redb::Error::from))
                .collect()
        })
    }

    fn commit_team(&self, change: &TeamCommit) -> Result<bool, StoreError> {
        let merchant = change.team.merchant.as_str();
        let done: Result<bool, StoreError> = self.write(|tx| {
            let mut teams = tx.open_table(TEAMS)?;
            let stored = teams.get(merchant)?.map(|g| g.value().to_string());
            let version = match stored.map(|t| parse_doc::<(u64, serde::de::IgnoredAny)>("team", &t)) {
                None => 0,
                Some(Ok((v, _))) => v,
                // A damaged team document is an error, not an endless conflict.
                Some(Err(e)) => return Ok(Err(e)),
            };
            if version != change.expected_version {
                return Ok(Ok(false));
            }
            teams.insert(merchant, to_json(&(version + 1, &change.team)).as_str())?;
            let mut owners = tx.open_table(OWNERS)?;
            let mut owned = tx.open_table(OWNED)?;
            for (o, before) in &change.owners {
                if let Some(b) = before {
                    owned.remove((merchant, b.as_str(), o.customer.as_str()))?;
                }
                owned.insert((merchant, o.manager.as_str(), o.customer.as_str()), 1)?;
                owners.insert((merchant, o.customer.as_str()), to_json(o).as_str())?;
            }
            let mut audit = tx.open_table(AUDIT)?;
            let next = audit
                .range((merchant, 0)..=(merchant, u64::MAX))?
                .next_back()
                .transpose()?
                .map_or(0, |(k, _)| k.value().1 + 1);
            for (seq, a) in (next..).zip(&change.audit) {
                audit.insert((merchant, seq), to_json(a).as_str())?;
            }
            Ok(Ok(true))
        })?;
        done
    }

    fn audit(&self, merchant: &str, offset: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let texts: Vec<String> = self.read(|tx| {
            let t = tx.open_table(AUDIT)?;
            t.range((merchant, offset)..=(merchant, u64::MAX))?
                .take(limit)
                .map(|r| r.map(|(_, v)| v.value().to_string()).map_err(redb::Error::from))
                .collect()
        })?;
        texts
            .iter()
            .map(|t| parse_doc("ownership audit entry", t))
            .collect()
    }

    fn append_access(&self, entries: &[AccessEntry]) -> Result<(), StoreError> {
        self.write(|tx| {
            let mut t = tx.open_table(ACCESS)?;
            let next = t.last()?.map_or(0, |(k, _)| k.value() + 1);
            for (seq, e) in (next..).zip(entries) {
                t.insert(seq, to_json(e).as_str())?;
            }
            Ok(())
        })
    }

    fn access_log(&self, offset: u64, limit: usize) -> Result<Vec<AccessEntry>, StoreError> {
        let texts: Vec<String> = self.read(|tx| {
            tx.open_table(ACCESS)?
                .range(offset..)?
                .take(limit)
                .map(|r| r.map(|(_, v)| v.value().to_string()).map_err(redb::Error::from))
                .collect()
        })?;
        texts.iter().map(|t| parse_doc("access log entry", t)).collect()
    }
}
