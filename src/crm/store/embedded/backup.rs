//! The embedded (redb) store, by area: whole-store dump and restore for backups.

use super::*;

impl BackupStore for EmbeddedStore {
    fn backend(&self) -> &'static str {
        "embedded"
    }

    fn dump(&self, out: &mut dyn FnMut(Record) -> Result<(), StoreError>) -> Result<(), StoreError> {
        // One read transaction: the backup is one point in time.
        let tx = self.db.begin_read().map_err(|e| self.fail(e))?;
        dump_tables(&tx, out, &|e| self.fail(e))
    }

    fn is_empty(&self) -> Result<bool, StoreError> {
        let tx = self.db.begin_read().map_err(|e| self.fail(e))?;
        Ok(rows_in_tables(&tx, &|e| self.fail(e))? == 0)
    }

    fn restore(&self, records: &[Record]) -> Result<(), StoreError> {
        let tx = self.db.begin_write().map_err(|e| self.fail(e))?;
        for r in records {
            restore_record(&tx, r, &|e| self.fail(e))?;
        }
        tx.commit().map_err(|e| self.fail(e))
    }
}
