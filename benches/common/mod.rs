//! What the CRM benches share.

use std::sync::Arc;

use waimai::config::Config;
use waimai::crm::Crm;
use waimai::crm::store::CrmStore;

/// The CRM with the embedded default rules and a fresh key, over `store`.
pub fn crm_over(store: Arc<dyn CrmStore>) -> Crm {
    let mut cfg = Config::load_with_env(None, Vec::new())
        .expect("embedded config")
        .crm;
    cfg.encryption_keys = waimai::crm::crypto::FieldCipher::generate_spec("bench");
    Crm::open(cfg, store).expect("CRM opens")
}
