//! `waimai crm backup` and `restore`, the real binary on embedded stores:
//! a round trip keeps every record, a damaged file exits 2 and writes
//! nothing.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use waimai::config::Config;
use waimai::crm::crypto::FieldCipher;
use waimai::crm::profile::{Contact, Delivered};
use waimai::crm::store::{CrmStore, EmbeddedStore};
use waimai::crm::{Command as CrmCommand, Crm, Request};

fn records(dir: &Path) -> Vec<String> {
    common::crm_records(&EmbeddedStore::open(&dir.join("crm.redb")).unwrap())
}

fn waimai(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_waimai"))
        .args(args)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// `waimai crm restore --from FILE --data-dir DIR`.
fn restore(from: &Path, dir: &Path) -> (i32, String) {
    waimai(&[
        "crm",
        "restore",
        "--from",
        from.to_str().unwrap(),
        "--data-dir",
        dir.to_str().unwrap(),
    ])
}

#[test]
fn backup_then_restore_keeps_every_record_and_a_damaged_file_exits_2() {
    let root = std::env::temp_dir().join(format!("waimai-crm-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (a, b, c) = (root.join("a"), root.join("b"), root.join("c"));
    {
        let mut cfg = Config::load_with_env(None, Vec::new()).unwrap().crm;
        cfg.encryption_keys = FieldCipher::generate_spec("cli1");
        let store: Arc<dyn CrmStore> = Arc::new(EmbeddedStore::open(&a.join("crm.redb")).unwrap());
        let crm = Crm::open(cfg, store).unwrap();
        for i in 0..20 {
            let contact = Contact {
                name: Some(format!("Customer {i}")),
                ..Contact::default()
            };
            let run = |key: &str, command| {
                crm.execute(
                    1_795_000_000,
                    &Request {
                        customer: format!("c{i}"),
                        key: key.into(),
                        command,
                    },
                )
                .unwrap()
            };
            run(
                "k",
                CrmCommand::Contact {
                    merchant: Some("m1".into()),
                    contact,
                },
            );
            let delivered = Delivered {
                merchant: "m1".into(),
                amount_cents: 2500,
                items: Vec::new(),
                region: None,
                rider: None,
                late_secs: None,
            };
            run(
                "d",
                CrmCommand::Delivered {
                    order: format!("o{i}"),
                    delivered,
                },
            );
        }
    }
    let file = root.join("crm.jsonl");
    let (code, out) = waimai(&[
        "crm",
        "backup",
        "--out",
        file.to_str().unwrap(),
        "--data-dir",
        a.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(!root.join("crm.partial").exists(), "the partial file was renamed");
    let original = records(&a);
    assert!(out.contains(&format!("\"records\":{}", original.len())), "{out}");

    let (code, out) = restore(&file, &b);
    assert_eq!(code, 0, "{out}");
    assert_eq!(records(&b), original);
    // Restoring again onto data is refused.
    let (code, out) = restore(&file, &b);
    assert_ne!(code, 0, "{out}");
    assert!(out.contains("not empty"), "{out}");

    let text = std::fs::read_to_string(&file).unwrap();
    let damaged = root.join("damaged.jsonl");
    std::fs::write(&damaged, text.replacen("\"o3\"", "\"o9\"", 1)).unwrap();
    let (code, out) = restore(&damaged, &c);
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("damaged"), "{out}");
    assert!(records(&c).is_empty(), "nothing written");
    let _ = std::fs::remove_dir_all(&root);
}
