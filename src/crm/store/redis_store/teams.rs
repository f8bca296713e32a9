//! The Redis store, by area: account managers: teams, ownerships, their audit, and the access log of personal data.

use super::*;

impl TeamStore for RedisStore {
    fn team(&self, merchant: &str) -> Result<(u64, Option<Team>), StoreError> {
        let mut pipe = Batch::new();
        pipe.cmd("HMGET")
            .arg(self.team_key(merchant, "team"))
            .arg("v")
            .arg("doc");
        let ((v, doc),): ((Option<u64>, Option<String>),) = self.run(&pipe)?;
        match doc {
            None => Ok((0, None)),
            Some(d) => Ok((
                v.unwrap_or(0),
                Some(parse_doc(&format!("team of {merchant}"), &d)?),
            )),
        }
    }

    fn owners(&self, merchant: &str, customers: &[&str]) -> Result<Vec<Option<Ownership>>, StoreError> {
        if customers.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = Batch::new();
        pipe.cmd("HMGET")
            .arg(self.team_key(merchant, "owners"))
            .arg(customers);
        let (texts,): (Vec<Option<String>>,) = self.run(&pipe)?;
        texts
            .iter()
            .map(|t| t.as_deref().map(|t| parse_doc("ownership", t)).transpose())
            .collect()
    }

    fn owned_by(&self, merchant: &str, manager: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let mut pipe = Batch::new();
        pipe.cmd("SMEMBERS")
            .arg(self.team_key(merchant, &format!("of:{manager}")));
        let (mut ids,): (Vec<String>,) = self.run(&pipe)?;
        ids.sort();
        ids.truncate(limit);
        Ok(ids)
    }

    fn commit_team(&self, change: &TeamCommit) -> Result<bool, StoreError> {
        let m = change.team.merchant.as_str();
        let set = |manager: &str| self.team_key(m, &format!("of:{manager}"));
        let mut keys = vec![
            self.team_key(m, "team"),
            self.team_key(m, "owners"),
            self.team_key(m, "audit"),
        ];
        let mut args = vec![
            change.expected_version.to_string(),
            to_json(&change.team),
            change.owners.len().to_string(),
        ];
        for (o, before) in &change.owners {
            keys.push(set(before.as_deref().unwrap_or(&o.manager)));
            keys.push(set(&o.manager));
            args.push(o.customer.clone());
            args.push(to_json(o));
        }
        args.extend(change.audit.iter().map(to_json));
        let mut pipe = Batch::new();
        pipe.cmd("EVALSHA")
            .arg(&self.team_sha)
            .arg(keys.len())
            .arg(&keys)
            .arg(&args);
        let (done,): (i64,) = self.run(&pipe)?;
        Ok(done == 1)
    }

    fn audit(&self, merchant: &str, offset: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut pipe = Batch::new();
        pipe.cmd("LRANGE")
            .arg(self.team_key(merchant, "audit"))
            .arg(offset)
            .arg(offset + limit as u64 - 1);
        let (lines,): (Vec<String>,) = self.run(&pipe)?;
        lines
            .iter()
            .map(|l| parse_doc("ownership audit entry", l))
            .collect()
    }

    fn append_access(&self, entries: &[AccessEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        let mut pipe = Batch::new();
        pipe.cmd("RPUSH")
            .arg(self.access_key())
            .arg(entries.iter().map(to_json).collect::<Vec<_>>())
            .ignore();
        let () = self.run(&pipe)?;
        Ok(())
    }

    fn access_log(&self, offset: u64, limit: usize) -> Result<Vec<AccessEntry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut pipe = Batch::new();
        pipe.cmd("LRANGE")
            .arg(self.access_key())
            .arg(offset)
            .arg(offset + limit as u64 - 1);
        let (lines,): (Vec<String>,) = self.run(&pipe)?;
        lines.iter().map(|l| parse_doc("access log entry", l)).collect()
    }
}
