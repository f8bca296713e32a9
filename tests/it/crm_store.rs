//! The CRM storage conformance suite: every case runs against the
//! embedded redb store, a real Redis (its own redis-server with AOF, on
//! a free port) and a local Redis Cluster (3 masters, 3 replicas, from
//! scripts/ensure-redis-cluster), through the same `Crm` service the
//! engine uses.

use crate::common;

use std::sync::{Arc, Barrier};

use common::redis::TestRedis;
use waimai::config::Config;
use waimai::crm::coupons::{CouponKind, CouponTemplate};
use waimai::crm::crypto::FieldCipher;
use waimai::crm::feedback::{Channel, Submitted};
use waimai::crm::loyalty::{EntryKind, Ledger};
use waimai::crm::marketing::{CampaignSpec, Group, Member, Purpose, Segment};
use waimai::crm::profile::{Birthday, Contact, Delivered, Item};
use waimai::crm::store::{Commit, Committed, CrmStore, Docs, EmbeddedStore, RedisStore, StoreError};
use waimai::crm::{Command, Crm, CrmConfig, CrmError, Outcome, Request};

const NOW: i64 = 1_795_000_000; // 2026-11-18, 10:06 UTC
const DAY: i64 = 86_400;

fn config() -> CrmConfig {
    let mut cfg = Config::load_with_env(None, Vec::new()).unwrap().crm;
    cfg.encryption_keys = test_key().to_string();
    cfg
}

/// One key for the whole run, so a reopened CRM reads what the first wrote.
fn test_key() -> &'static str {
    static KEY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    KEY.get_or_init(|| FieldCipher::generate_spec("test1"))
}

fn cipher() -> FieldCipher {
    FieldCipher::from_spec(test_key()).unwrap()
}

/// A backend under test; `reopen` gives a second handle on the same data
/// (as after a restart).
struct Backend {
    name: &'static str,
    store: Arc<dyn CrmStore>,
    reopen: Box<dyn Fn() -> Arc<dyn CrmStore>>,
    /// Where a Redis backend keeps its data: URL and key prefix.
    at: Option<(String, String)>,
    _redis: Option<TestRedis>,
}

fn backends(test: &str) -> Vec<Backend> {
    let dir = std::env::temp_dir().join(format!("waimai-crm-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let path = dir.join("crm.redb");
    let embedded: Arc<dyn CrmStore> = Arc::new(EmbeddedStore::open(&path).unwrap());
    let redis = TestRedis::start(test);
    let (url, prefix) = (redis.url.clone(), redis.prefix.clone());
    let store: Arc<dyn CrmStore> = Arc::new(RedisStore::open(&url, &prefix).unwrap());
    let redis_at = Some((url.clone(), prefix.clone()));
    let embedded_again = embedded.clone();
    let cluster = common::redis::cluster_url();
    let cluster_prefix = format!("waimai-test:cluster-{test}:{}", std::process::id());
    let on_cluster: Arc<dyn CrmStore> = Arc::new(RedisStore::open(&cluster, &cluster_prefix).unwrap());
    let cluster_at = Some((cluster.clone(), cluster_prefix.clone()));
    vec![
        Backend {
            name: "embedded",
            store: embedded,
            // redb allows one open handle per file: the same handle stands
            // for the reopened process (the file is what persists).
            reopen: Box::new(move || embedded_again.clone()),
            at: None,
            _redis: None,
        },
        Backend {
            name: "redis",
            store,
            reopen: Box::new(move || Arc::new(RedisStore::open(&url, &prefix).unwrap())),
            at: redis_at,
            _redis: Some(redis),
        },
        Backend {
            name: "cluster",
            store: on_cluster,
            reopen: Box::new(move || Arc::new(RedisStore::open(&cluster, &cluster_prefix).unwrap())),
            at: cluster_at,
            _redis: None,
        },
    ]
}

fn request(customer: &str, key: &str, command: Command) -> Request {
    Request {
        customer: customer.into(),
        key: key.into(),
        command,
    }
}

fn delivered(order: &str, cents: i64) -> Command {
    Command::Delivered {
        order: order.into(),
        delivered: Delivered {
            merchant: "m1".into(),
            amount_cents: cents,
            items: vec![Item {
                dish: "mapo tofu".into(),
                category: "spicy".into(),
                quantity: 1,
                price_cents: cents,
            }],
            region: Some("centre".into()),
            rider: None,
            late_secs: None,
        },
    }
}

fn checkout(order: &str, cents: i64, points: u64) -> Command {
    Command::Checkout {
        order: order.into(),
        merchant: "m1".into(),
        amount_cents: cents,
        points,
        coupon: None,
    }
}

fn balance(crm: &Crm, customer: &str) -> u64 {
    crm.customer(customer).unwrap().unwrap().1.account.balance()
}

#[test]
fn a_customer_survives_a_reopen_with_profile_points_and_welcome_coupon() {
    for b in backends("reopen") {
        let crm = Crm::open(config(), b.store.clone()).unwrap();
        let contact = Contact {
            name: Some("Li Wei".into()),
            phone: Some("13812345678".into()),
            birthday: Some(Birthday { month: 11, day: 18 }),
            ..Contact::default()
        };
        let out = crm
            .execute(
                NOW,
                &request(
                    "c1",
                    "contact-1",
                    Command::Contact {
                        merchant: Some("m1".into()),
                        contact,
                    },
                ),
            )
            .unwrap();
        assert_eq!(
            out,
            Outcome::Contact {
                created: true,
                coupons: vec!["welcome-1".into()]
            },
            "{}",
            b.name
        );
        // 25.50 spent: 25 whole units at 1 point each (regular tier).
        crm.execute(NOW, &request("c1", "order-1", delivered("o1", 2550)))
            .unwrap();

        let again = Crm::open(config(), (b.reopen)()).unwrap();
        let (version, state) = again.customer("c1").unwrap().unwrap();
        assert_eq!(version, 2, "{}", b.name);
        assert_eq!(state.profile.contact.name.as_deref(), Some("Li Wei"));
        assert_eq!(state.profile.orders.count, 1);
        assert_eq!(state.account.balance(), 25, "{}", b.name);
        assert_eq!(state.wallet.coupons.len(), 1);
        assert_eq!(
            again.store().customers_of("m1", 10).unwrap(),
            vec!["c1".to_string()]
        );
        // The index holds a keyed label of the day, never the day itself.
        let label = cipher().blind("birthday", "1118");
        assert_eq!(again.store().born_on(&label, 10).unwrap(), vec!["c1".to_string()]);
        assert!(again.store().born_on("1118", 10).unwrap().is_empty());
        assert!(again.customer("nobody").unwrap().is_none());
    }
}

#[test]
fn a_replayed_key_changes_nothing_and_answers_the_same() {
    for b in backends("replay") {
        let crm = Crm::open(config(), b.store.clone()).unwrap();
        let first = crm
            .execute(NOW, &request("c1", "order-1", delivered("o1", 4000)))
            .unwrap();
        let ledger_len = crm.ledger("c1", 0, 100).unwrap().len();
        for _ in 0..3 {
            let again = crm
                .execute(NOW + 60, &request("c1", "order-1", delivered("o1", 4000)))
                .unwrap();
            assert_eq!(again, first, "{}", b.name);
        }
        assert_eq!(crm.ledger("c1", 0, 100).unwrap().len(), ledger_len, "{}", b.name);
        assert_eq!(balance(&crm, "c1"), 40);
        // The same key for another command is refused, not answered.
        let reused = crm.execute(NOW, &request("c1", "order-1", delivered("o1", 9900)));
        assert_eq!(reused, Err(CrmError::KeyReused("order-1".into())), "{}", b.name);
        // A batch holding the same key twice applies it once.
        let twice = [
            request("c2", "k", delivered("o9", 1000)),
            request("c2", "k", delivered("o9", 1000)),
        ];
        let out = crm.execute_batch(NOW, &twice);
        assert_eq!(out[0], out[1]);
        assert_eq!(balance(&crm, "c2"), 10, "{}", b.name);
    }
}

#[test]
fn a_stale_version_is_a_conflict_and_writes_nothing() {
    for b in backends("conflict") {
        let crm = Crm::open(config(), b.store.clone()).unwrap();
        crm.execute(NOW, &request("c1", "a", delivered("o1", 1000)))
            .unwrap();
        let (version, state) = crm.customer("c1").unwrap().unwrap();
        let stale = Commit {
            customer: "c1".into(),
            expected_version: version - 1,
            key: "b".into(),
            stored: "{}".into(),
            docs: Docs::of(&state, "c1", &cipher()).changes_from(&Docs::default()),
            entries: Vec::new(),
            index: Vec::new(),
            facts: Default::default(),
        };
        assert_eq!(
            b.store.commit(&[stale]).unwrap(),
            vec![Committed::Conflict],
            "{}",
            b.name
        );
        let loaded = b.store.load(&[("c1", "b")]).unwrap();
        assert_eq!(loaded[0].version, version);
        assert_eq!(loaded[0].prior, None, "{}: a refused commit keeps no key", b.name);
    }
}

#[test]
fn the_ledger_adds_up_to_the_balance_through_a_day_of_orders() {
    for b in backends("ledger") {
        let crm = Crm::open(config(), b.store.clone()).unwrap();
        let run = |key: &str, at: i64, c: Command| crm.execute(at, &request("c1", key, c));
        run("d1", NOW, delivered("o1", 5000)).unwrap(); // +50
        run("d2", NOW + DAY, delivered("o2", 3000)).unwrap(); // +30
        // Checkout 60 points: the 50 of o1 (sooner to expire) and 10 of o2.
        let Outcome::Checkout(p) = run("c3", NOW + 2 * DAY, checkout("o3", 4000, 60)).unwrap() else {
            panic!("checkout answers a price");
        };
        // 40.00, minus 5.00 (spend 30 get 5), minus 60 points of 0.01.
        assert_eq!(p.payable_cents, 4000 - 500 - 60);
        let lots = crm.customer("c1").unwrap().unwrap().1.account.lots;
        assert_eq!(lots.len(), 1, "{}: o1's lot is used up first", b.name);
        assert_eq!(lots[0].remaining, 20);
        run("x3", NOW + 2 * DAY, Command::Cancelled { order: "o3".into() }).unwrap();
        assert_eq!(balance(&crm, "c1"), 80);
        let short = run("c4", NOW + 3 * DAY, checkout("o4", 2000, 90));
        assert_eq!(
            short,
            Err(CrmError::InsufficientPoints {
                wanted: 90,
                available: 80
            })
        );
        run("c5", NOW + 3 * DAY, checkout("o5", 9000, 70)).unwrap();
        run("d5", NOW + 3 * DAY, delivered("o5", 9000)).unwrap(); // spend 70, earn 90
        // o5 took 50 (o1's lot) + 20 (o2's), so o2's lot has 10 left. The
        // refund of o2 claws its 30 back: those 10, then 20 from o5's lot.
        let refund = run("r2", NOW + 4 * DAY, Command::Refunded { order: "o2".into() }).unwrap();
        assert_eq!(
            refund,
            Outcome::Refunded {
                clawed_back: 30,
                debt: 0,
                restored: 0
            },
            "{}",
            b.name
        );
        let state = crm.customer("c1").unwrap().unwrap().1;
        let entries = crm.ledger("c1", 0, 1000).unwrap();
        let sums = Ledger::of(&entries);
        assert_eq!(sums.balance(), Some(state.account.balance()), "{}", b.name);
        assert_eq!(state.account.balance(), 50 + 30 + 90 - 70 - 30);
        assert_eq!(sums.spent, 70);
        assert_eq!(sums.held, 0);
        // Entries are in the order they were written.
        assert!(matches!(entries[0].kind, EntryKind::Earn { .. }));
        assert_eq!(
            entries
                .iter()
                .filter(|e| matches!(e.kind, EntryKind::Void))
                .count(),
            1
        );
    }
}

#[test]
fn concurrent_spends_never_exceed_the_balance() {
    for b in backends("concurrent") {
        let crm = Arc::new(Crm::open(config(), b.store.clone()).unwrap());
        crm.execute(NOW, &request("c1", "d", delivered("o0", 10_000)))
            .unwrap(); // 100 points
        let threads = 8;
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (crm, barrier) = (crm.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    let order = format!("o{}", t + 1);
                    crm.execute(
                        NOW,
                        &request("c1", &format!("checkout-{order}"), checkout(&order, 10_000, 30)),
                    )
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let won = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            won, 3,
            "{}: 100 points pay for three holds of 30: {results:?}",
            b.name
        );
        assert!(
            results
                .iter()
                .filter_map(|r| r.as_ref().err())
                .all(|e| matches!(e, CrmError::InsufficientPoints { .. })),
            "{}: {results:?}",
            b.name
        );
        let state = crm.customer("c1").unwrap().unwrap().1;
        assert_eq!(state.account.balance(), 10, "{}", b.name);
        assert_eq!(state.account.held(), 90);
        assert_eq!(Ledger::of(&crm.ledger("c1", 0, 100).unwrap()).balance(), Some(10));
    }
}

#[test]
fn a_total_cap_holds_across_concurrent_customers() {
    for b in backends("cap") {
        let crm = Arc::new(Crm::open(config(), b.store.clone()).unwrap());
        crm.put_template(CouponTemplate {
            id: "spring".into(),
            kind: CouponKind::Festival,
            merchant: None,
            min_spend_cents: 3000,
            off_cents: 300,
            valid_days: 10,
            starts_at_secs: Some(NOW - DAY),
            ends_at_secs: Some(NOW + DAY),
            per_customer_cap: 1,
            total_cap: Some(5),
        })
        .unwrap();
        let handles: Vec<_> = (0..8)
            .map(|c| {
                let crm = crm.clone();
                std::thread::spawn(move || {
                    let issue = Command::IssueCoupon {
                        template: "spring".into(),
                        campaign: None,
                    };
                    let first = crm.execute(NOW, &request(&format!("c{c}"), "spring", issue.clone()));
                    let replay = crm.execute(NOW, &request(&format!("c{c}"), "spring", issue));
                    (first, replay)
                })
            })
            .collect();
        let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
        let issued = results.iter().filter(|(r, _)| r.is_ok()).count();
        assert_eq!(issued, 5, "{}: {results:?}", b.name);
        assert!(
            results
                .iter()
                .filter(|(r, _)| r.is_ok())
                .all(|(r, again)| r == again),
            "replays answer the same"
        );
        assert_eq!(
            crm.store().total_used("spring").unwrap(),
            5,
            "{}: replays take nothing",
            b.name
        );
        // Outside its window a campaign issues nothing.
        let late = crm.execute(
            NOW + 2 * DAY,
            &request(
                "z",
                "late",
                Command::IssueCoupon {
                    template: "spring".into(),
                    campaign: None,
                },
            ),
        );
        assert!(
            matches!(late, Err(CrmError::CapReached(_)) | Err(CrmError::NotNow(_))),
            "{late:?}"
        );
    }
}

#[test]
fn jobs_expire_lots_on_time_and_give_birthday_coupons_once() {
    for b in backends("jobs") {
        let crm = Crm::open(config(), b.store.clone()).unwrap();
        crm.execute(NOW, &request("c1", "d", delivered("o1", 2000)))
            .unwrap();
        let contact = Contact {
            birthday: Some(Birthday { month: 11, day: 20 }),
            ..Contact::default()
        };
        crm.execute(
            NOW,
            &request(
                "c2",
                "k",
                Command::Contact {
                    merchant: None,
                    contact,
                },
            ),
        )
        .unwrap();
        let expiry = NOW + 365 * DAY;
        assert_eq!(
            crm.sweep(expiry - 1).unwrap(),
            0,
            "{}: nothing due a second early",
            b.name
        );
        assert_eq!(balance(&crm, "c1"), 20);
        assert_eq!(crm.sweep(expiry).unwrap(), 1, "{}", b.name);
        assert_eq!(balance(&crm, "c1"), 0);
        assert_eq!(
            crm.sweep(expiry + 1).unwrap(),
            0,
            "{}: swept customers leave the index",
            b.name
        );
        let sums = Ledger::of(&crm.ledger("c1", 0, 100).unwrap());
        assert_eq!((sums.earned, sums.expired, sums.balance()), (20, 20, Some(0)));
        // 2026-11-20 12:00 UTC is c2's birthday: one coupon, however often
        // the job runs that year.
        let birthday = 1_795_176_000;
        assert_eq!(crm.birthdays(birthday).unwrap(), 1, "{}", b.name);
        assert_eq!(crm.birthdays(birthday + 3600).unwrap(), 0, "{}", b.name);
        assert_eq!(crm.birthdays(birthday - DAY).unwrap(), 0);
        let wallet = crm.customer("c2").unwrap().unwrap().1.wallet;
        assert_eq!(wallet.issued.get("birthday"), Some(&1));
        // Erased on request: the old index label is only a hint, and the
        // next year's job finds no birthday on the record.
        crm.execute(NOW, &request("c2", "erase", Command::Erase {}))
            .unwrap();
        let next_year = birthday + 365 * DAY;
        assert_eq!(crm.birthdays(next_year).unwrap(), 0, "{}", b.name);
    }
}

#[test]
fn damaged_or_unreachable_redis_is_a_clear_error() {
    let redis = TestRedis::start("damaged");
    let store = Arc::new(RedisStore::open(&redis.url, &redis.prefix).unwrap());
    let crm = Crm::open(config(), store).unwrap();
    crm.execute(NOW, &request("c1", "d", delivered("o1", 2000)))
        .unwrap();
    let mut conn = redis.connection();
    let _: () = redis::cmd("SET")
        .arg(format!("{}:{{c:c1}}:account", redis.prefix))
        .arg("not json")
        .query(&mut conn)
        .unwrap();
    match crm.customer("c1") {
        Err(CrmError::Store(StoreError::Corrupt { what, .. })) => {
            assert!(what.contains("c1 account"), "{what}")
        }
        other => panic!("damaged account must be an error naming it: {other:?}"),
    }
    match RedisStore::open("redis://127.0.0.1:1/", "x") {
        Err(StoreError::Redis { url, .. }) => assert!(url.contains(":1/")),
        Err(other) => panic!("{other}"),
        Ok(_) => panic!("nothing listens on port 1"),
    }
}

fn feedback(order: &str, rating: u8, text: &str) -> Command {
    Command::Feedback {
        order: order.into(),
        review: Submitted {
            merchant: "m1".into(),
            rider: Some("7".into()),
            channel: Channel::OrderRating,
            rating: Some(rating),
            text: text.into(),
            late_secs: None,
        },
    }
}

#[test]
fn reviews_are_stored_once_listed_by_time_and_a_negative_one_earns_one_apology() {
    for b in backends("feedback") {
        let crm = Crm::open(config(), b.store.clone()).unwrap();
        let alerts = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = alerts.clone();
        crm.set_alert_sink(Arc::new(move |r| seen.lock().unwrap().push(r.id.clone())));
        let bad = request("c1", "review:o1", feedback("o1", 1, "cold noodles, rude rider"));
        let first = crm.execute(NOW, &bad).unwrap();
        let Outcome::Feedback(review) = &first else {
            panic!("{first:?}")
        };
        assert!(review.class.negative, "{}", b.name);
        let coupon = review.coupon.clone().expect("an apology coupon");
        // A replay answers the same, issues nothing and alerts nobody.
        assert_eq!(crm.execute(NOW + 5, &bad).unwrap(), first, "{}", b.name);
        let good = request("c1", "review:o2", feedback("o2", 5, "great spicy noodles"));
        crm.execute(NOW + DAY, &good).unwrap();
        assert_eq!(
            *alerts.lock().unwrap(),
            vec!["c1/review:o1".to_string()],
            "{}",
            b.name
        );

        let crm = Crm::open(config(), (b.reopen)()).unwrap();
        let all = crm.reviews(NOW, NOW + 2 * DAY, |_| true).unwrap();
        let orders: Vec<&str> = all.iter().map(|r| r.order.as_str()).collect();
        assert_eq!(orders, ["o1", "o2"], "{}", b.name);
        assert_eq!(all[0], *review, "{}: stored as answered", b.name);
        // The window is [from, to).
        assert_eq!(
            crm.reviews(NOW + 1, NOW + DAY, |_| true).unwrap().len(),
            0,
            "{}",
            b.name
        );
        assert_eq!(
            crm.reviews(NOW, NOW + DAY + 1, |_| true).unwrap().len(),
            2,
            "{}",
            b.name
        );
        let (_, state) = crm.customer("c1").unwrap().unwrap();
        let apologies: Vec<&str> = state
            .wallet
            .coupons
            .iter()
            .filter(|c| c.template == "apology")
            .map(|c| c.id.as_str())
            .collect();
        assert_eq!(apologies, [coupon.as_str()], "{}", b.name);
        assert!(state.profile.all_tags().contains("likes:spicy"), "{}", b.name);
    }
}

#[test]
fn concurrent_assignments_split_evenly_and_a_leaving_managers_book_moves_whole() {
    use waimai::crm::managers::{Event, Rule};
    for b in backends("teams") {
        let crm = Arc::new(Crm::open(config(), b.store.clone()).unwrap());
        let members = vec!["ann".to_string(), "bo".to_string(), "cy".to_string()];
        crm.set_team("m1", members, Rule::EvenSplitDaily, 0).unwrap();
        let (threads, each) = (4, 30);
        let barrier = Arc::new(Barrier::new(threads));
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (crm, barrier) = (crm.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    for i in 0..each {
                        let c = format!("c{t}-{i}");
                        // Asked twice: the second answer is the first owner.
                        let first = crm.own(NOW, "m1", &c, &Event::Assign).unwrap();
                        let again = crm.own(NOW, "m1", &c, &Event::Assign).unwrap();
                        assert_eq!(first, again);
                    }
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        let total = threads * each;
        let book = |m: &str| b.store.owned_by("m1", m, 10_000).unwrap();
        let sizes: Vec<usize> = ["ann", "bo", "cy"].iter().map(|m| book(m).len()).collect();
        assert_eq!(
            sizes,
            [40, 40, 40],
            "{}: an even split, no customer twice",
            b.name
        );
        let team = crm.team("m1").unwrap().unwrap();
        assert_eq!(team.assigned.values().sum::<u64>(), total as u64, "{}", b.name);
        assert_eq!(team.owned.values().sum::<u64>(), total as u64, "{}", b.name);
        let audit = crm.ownership_audit("m1", 0, 10_000).unwrap();
        assert_eq!(audit.len(), total, "{}: one line per assignment", b.name);

        // ann leaves: her 40 customers move, each audited, nobody lost.
        let ann = book("ann");
        let moved = crm.leave(NOW + 60, "m1", "ann", None).unwrap();
        assert_eq!(moved, 40, "{}", b.name);
        assert!(book("ann").is_empty(), "{}", b.name);
        assert_eq!((book("bo").len(), book("cy").len()), (60, 60), "{}", b.name);
        for c in &ann {
            let o = crm.owner("m1", c).unwrap().unwrap();
            assert!(o.manager == "bo" || o.manager == "cy", "{}", b.name);
        }
        let audit = crm.ownership_audit("m1", total as u64, 10_000).unwrap();
        assert_eq!(audit.len(), 40, "{}", b.name);
        assert!(
            audit
                .iter()
                .all(|a| a.why == "transfer" && a.from.as_deref() == Some("ann"))
        );
        let team = crm.team("m1").unwrap().unwrap();
        assert_eq!(team.members, ["bo", "cy"], "{}", b.name);
        // A reopened store has the same book.
        let crm = Crm::open(config(), (b.reopen)()).unwrap();
        assert_eq!(
            crm.owner("m1", &ann[0]).unwrap().map(|o| o.customer),
            Some(ann[0].clone())
        );
    }
}

fn delivered_by(merchant: &str, order: &str, category: &str) -> Command {
    Command::Delivered {
        order: order.into(),
        delivered: Delivered {
            merchant: merchant.into(),
            amount_cents: 2500,
            items: vec![Item {
                dish: "dish".into(),
                category: category.into(),
                quantity: 3,
                price_cents: 2500,
            }],
            region: Some("north".into()),
            rider: None,
            late_secs: None,
        },
    }
}

#[test]
fn a_win_back_campaign_reaches_its_segment_once_and_measures_against_its_holdout() {
    for b in backends("campaign") {
        let crm = Crm::open(config(), b.store.clone()).unwrap();
        crm.put_template(CouponTemplate {
            id: "m1-winback".into(),
            kind: CouponKind::Festival,
            merchant: Some("m1".into()),
            min_spend_cents: 0,
            off_cents: 500,
            valid_days: 30,
            starts_at_secs: None,
            ends_at_secs: None,
            per_customer_cap: 0,
            total_cap: None,
        })
        .unwrap();
        // 40 lapsed customers of m1 (last order 40 days ago), 20 recent
        // ones, 10 lapsed customers of m2 only: the segment is the 40.
        let mut lapsed = Vec::new();
        for i in 0..70 {
            let (c, merchant, at) = match i {
                0..40 => (format!("lapsed{i:02}"), "m1", NOW - 40 * DAY),
                40..60 => (format!("recent{i:02}"), "m1", NOW - 2 * DAY),
                _ => (format!("other{i:02}"), "m2", NOW - 40 * DAY),
            };
            let category = if i % 2 == 0 { "spicy" } else { "sweet" };
            crm.execute(
                at,
                &request(&c, "o", delivered_by(merchant, &format!("{c}-o1"), category)),
            )
            .unwrap();
            if i < 40 {
                lapsed.push(c);
            }
        }
        let win_back = Segment {
            last_order_days_min: Some(30),
            ..Segment::default()
        };
        let found: Vec<String> = crm
            .segment("m1", &win_back, NOW)
            .unwrap()
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        assert_eq!(found, lapsed, "{}", b.name);
        // Tags narrow it: the even ones like spicy.
        let spicy = Segment {
            tags_any: vec!["likes:spicy".into()],
            ..win_back.clone()
        };
        let found = crm.segment("m1", &spicy, NOW).unwrap();
        assert_eq!(found.len(), 20, "{}", b.name);

        let spec = CampaignSpec {
            id: "wb1".into(),
            purpose: Purpose::WinBack,
            segment: win_back,
            template: Some("m1-winback".into()),
            message: Some("We miss you: 5 off your next order".into()),
            holdout_percent: 25,
        };
        crm.define_campaign("m1", spec.clone(), NOW).unwrap();
        // A first run cut short left a member of an older evaluation
        // (the campaign is not frozen yet): it is not counted.
        let ghost = Member {
            group: Group::Treated,
            orders_at_start: 0,
        };
        b.store.put_members("wb1", &[("ghost".into(), ghost)]).unwrap();
        let first = crm.run_campaign("m1", "wb1", NOW).unwrap();
        assert_eq!(first.treated + first.holdout, 40, "{}", b.name);
        assert!(
            first.holdout > 0 && first.treated > 0,
            "{}: both groups drawn",
            b.name
        );
        assert_eq!((first.issued_now, first.already_issued), (first.treated, 0));
        assert_eq!(first.messages_new, first.treated);
        assert!(first.failed.is_empty(), "{}: {:?}", b.name, first.failed);

        // A customer who lapses after the first run is not added; running
        // again issues nothing twice and sends no message twice.
        crm.execute(
            NOW - 50 * DAY,
            &request("late", "o", delivered_by("m1", "late-o1", "spicy")),
        )
        .unwrap();
        let again = crm.run_campaign("m1", "wb1", NOW + 60).unwrap();
        assert_eq!(
            (again.issued_now, again.already_issued),
            (0, first.treated),
            "{}",
            b.name
        );
        assert_eq!(again.messages_new, 0, "{}", b.name);
        let members = b.store.members("wb1").unwrap();
        assert_eq!(members.len(), 40, "{}: members frozen at the first run", b.name);
        let mut treated = Vec::new();
        let mut holdout = Vec::new();
        for (c, m) in &members {
            let wallet = crm.customer(c).unwrap().unwrap().1.wallet;
            let ours: Vec<_> = wallet
                .coupons
                .iter()
                .filter(|x| x.template == "m1-winback")
                .collect();
            match m.group {
                Group::Treated => {
                    assert_eq!(ours.len(), 1, "{}: {c} holds exactly one", b.name);
                    assert_eq!(ours[0].campaign.as_deref(), Some("wb1"));
                    treated.push((c.clone(), ours[0].id.clone()));
                }
                Group::Holdout => {
                    assert!(ours.is_empty(), "{}: held out {c} got nothing", b.name);
                    holdout.push(c.clone());
                }
            }
        }
        let outbox = crm.outbox("m1", 0, 1000).unwrap();
        assert_eq!(outbox.len(), treated.len(), "{}", b.name);
        let seqs: Vec<u64> = outbox.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (1..=treated.len() as u64).collect::<Vec<_>>(), "{}", b.name);
        assert!(
            outbox
                .iter()
                .all(|m| m.coupon.is_some() && m.id == format!("wb1/{}", m.customer))
        );

        // One treated customer uses the coupon; one held-out customer
        // orders twice. Effect: 1 redeemed; the treated placed 1 order,
        // the holdout 2 over its members.
        let (c, coupon) = &treated[0];
        crm.execute(
            NOW + 100,
            &request(
                c,
                "co",
                Command::Checkout {
                    order: "back1".into(),
                    merchant: "m1".into(),
                    amount_cents: 2500,
                    points: 0,
                    coupon: Some(coupon.clone()),
                },
            ),
        )
        .unwrap();
        crm.execute(NOW + 200, &request(c, "dl", delivered_by("m1", "back1", "spicy")))
            .unwrap();
        for k in ["h1", "h2"] {
            crm.execute(
                NOW + 300,
                &request(&holdout[0], k, delivered_by("m1", k, "spicy")),
            )
            .unwrap();
        }
        let effect = crm.campaign_effect("m1", "wb1").unwrap();
        let (t, h) = (treated.len() as f64, holdout.len() as f64);
        assert_eq!(
            (effect.issued, effect.redeemed),
            (treated.len() as u64, 1),
            "{}",
            b.name
        );
        assert!((effect.redemption_rate - 1.0 / t).abs() < 1e-12);
        assert!((effect.orders_per_treated - 1.0 / t).abs() < 1e-12);
        assert!((effect.orders_per_holdout - 2.0 / h).abs() < 1e-12);
        assert!(
            (effect.incremental_orders - (1.0 - 2.0 / h * t)).abs() < 1e-9,
            "{}",
            b.name
        );

        // The consumer acknowledges the first three; they go, the rest stay.
        assert_eq!(crm.outbox_ack("m1", 3).unwrap(), 3);
        let rest = crm.outbox("m1", 0, 1000).unwrap();
        assert_eq!(rest.first().map(|m| m.seq), Some(4), "{}", b.name);
        // A run spec cannot change; another merchant cannot see it.
        let mut changed = spec.clone();
        changed.holdout_percent = 10;
        assert!(matches!(
            crm.define_campaign("m1", changed, NOW),
            Err(CrmError::CampaignFrozen(_))
        ));
        assert!(matches!(
            crm.campaign("m2", "wb1"),
            Err(CrmError::UnknownCampaign(_))
        ));
        // After a restart the campaign is still frozen with its members.
        let crm = Crm::open(config(), (b.reopen)()).unwrap();
        let again = crm.run_campaign("m1", "wb1", NOW + 400).unwrap();
        assert_eq!(again.issued_now + again.messages_new, 0, "{}", b.name);
        assert_eq!(crm.campaign("m1", "wb1").unwrap().runs, 3);
    }
}

#[test]
fn a_backup_restores_every_record_and_a_damaged_one_restores_nothing() {
    use waimai::crm::backup::{BackupError, backup, restore};
    use waimai::crm::managers::{Event, Rule};
    for b in backends("backup") {
        let crm = Crm::open(config(), b.store.clone()).unwrap();
        // Something of every kind: contact, orders and points, a review, a
        // team with owners and audit, an access line, a campaign with
        // members and outbox messages.
        let contact = Contact {
            name: Some("Li Lei".into()),
            phone: Some("+8613800001111".into()),
            birthday: Some(Birthday { month: 3, day: 9 }),
            ..Contact::default()
        };
        crm.execute(
            NOW,
            &request(
                "c1",
                "k",
                Command::Contact {
                    merchant: Some("m1".into()),
                    contact,
                },
            ),
        )
        .unwrap();
        for (i, c) in ["c1", "c2", "c3"].iter().enumerate() {
            crm.execute(
                NOW - 40 * DAY,
                &request(c, "d", delivered(&format!("o{i}"), 2000 + i as i64)),
            )
            .unwrap();
        }
        crm.execute(NOW, &request("c2", "f", feedback("o1", 1, "cold and late")))
            .unwrap();
        crm.set_team("m1", vec!["ann".into(), "bo".into()], Rule::LeastBusy, 0)
            .unwrap();
        crm.own(NOW, "m1", "c1", &Event::Assign).unwrap();
        b.store
            .append_access(&[waimai::crm::store::AccessEntry {
                at_secs: NOW,
                who: "operator".into(),
                customer: "c1".into(),
                action: "read".into(),
                what: "contact".into(),
            }])
            .unwrap();
        let spec = CampaignSpec {
            id: "hello".into(),
            purpose: Purpose::Other,
            segment: Segment::default(),
            template: None,
            message: Some("hello".into()),
            holdout_percent: 0,
        };
        crm.define_campaign("m1", spec, NOW).unwrap();
        assert_eq!(crm.run_campaign("m1", "hello", NOW).unwrap().messages_new, 3);

        let mut file = Vec::new();
        let summary = backup(b.store.as_ref(), NOW, &mut file).unwrap();
        let original = common::crm_records(b.store.as_ref());
        assert_eq!(summary.records as usize, original.len(), "{}", b.name);
        let text = String::from_utf8(file.clone()).unwrap();
        assert!(
            !text.contains("Li Lei") && !text.contains("13800001111"),
            "{}: sealed in the file",
            b.name
        );

        let target = fresh_store(&b, "restored");
        let open = |bytes: Vec<u8>| move || Ok::<_, std::io::Error>(std::io::Cursor::new(bytes.clone()));
        // A changed byte, or a missing footer, and nothing is written.
        let damaged = text.replacen("\"c2\"", "\"c9\"", 1).into_bytes();
        assert!(
            matches!(
                restore(target.as_ref(), open(damaged)),
                Err(BackupError::BadFile(_))
            ),
            "{}",
            b.name
        );
        let cut: Vec<&str> = text.lines().collect();
        let cut = cut[..cut.len() - 1].join("\n").into_bytes();
        assert!(
            matches!(restore(target.as_ref(), open(cut)), Err(BackupError::BadFile(_))),
            "{}",
            b.name
        );
        assert!(
            target.is_empty().unwrap(),
            "{}: a refused file writes nothing",
            b.name
        );

        let restored = restore(target.as_ref(), open(file.clone())).unwrap();
        assert_eq!(restored.records, summary.records);
        assert_eq!(
            common::crm_records(target.as_ref()),
            original,
            "{}: record for record",
            b.name
        );
        // And the restored store works as the original did.
        let again = Crm::open(config(), target.clone()).unwrap();
        for c in ["c1", "c2", "c3"] {
            assert_eq!(
                again.customer(c).unwrap(),
                crm.customer(c).unwrap(),
                "{}: {c}",
                b.name
            );
            assert_eq!(again.ledger(c, 0, 100).unwrap(), crm.ledger(c, 0, 100).unwrap());
        }
        assert_eq!(again.reviews(0, i64::MAX, |_| true).unwrap().len(), 1);
        assert_eq!(again.owner("m1", "c1").unwrap(), crm.owner("m1", "c1").unwrap());
        assert_eq!(
            again.outbox("m1", 0, 10).unwrap(),
            crm.outbox("m1", 0, 10).unwrap()
        );
        assert_eq!(
            again.run_campaign("m1", "hello", NOW).unwrap().messages_new,
            0,
            "{}",
            b.name
        );
        let contact_after = again.customer("c1").unwrap().unwrap().1.profile.contact;
        assert_eq!(
            contact_after.name.as_deref(),
            Some("Li Lei"),
            "{}: opened with the same key",
            b.name
        );
        // A store holding data refuses a restore.
        assert!(matches!(
            restore(target.as_ref(), open(file)),
            Err(BackupError::Target(_))
        ));
    }
}

/// An empty store of the same kind as `b`'s.
fn fresh_store(b: &Backend, name: &str) -> Arc<dyn CrmStore> {
    match &b.at {
        Some((url, prefix)) => Arc::new(RedisStore::open(url, &format!("{prefix}:{name}")).unwrap()),
        None => {
            let dir = std::env::temp_dir().join(format!("waimai-crm-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            Arc::new(EmbeddedStore::open(&dir.join("crm.redb")).unwrap())
        }
    }
}

#[test]
fn sales_are_kept_once_per_order_and_feed_report_and_forecast() {
    for b in backends("sales") {
        let crm = Crm::open(config(), b.store.clone()).unwrap();
        // Yesterday, 3 orders to the north at 11h; today one at 10h.
        let today = NOW.div_euclid(DAY) * DAY;
        for (i, at) in [
            today - DAY + 11 * 3600,
            today - DAY + 11 * 3600 + 60,
            today - DAY + 11 * 3600 + 120,
            today + 10 * 3600,
        ]
        .iter()
        .enumerate()
        {
            let order = format!("s{i}");
            crm.execute(
                *at,
                &request(&format!("c{i}"), "d", delivered_by("m1", &order, "spicy")),
            )
            .unwrap();
            // A replay writes no second line.
            crm.execute(
                *at,
                &request(&format!("c{i}"), "d", delivered_by("m1", &order, "spicy")),
            )
            .unwrap();
        }
        let r = crm.analytics("m1", today + 10 * 3600 + 60, 2).unwrap();
        assert_eq!(r.total.orders, 4, "{}", b.name);
        assert_eq!((r.by_hour[11].orders, r.by_hour[10].orders), (3, 1), "{}", b.name);
        assert_eq!(r.dishes[0].quantity, 12, "{}: 4 orders of 3", b.name);
        assert_eq!(crm.analytics("m2", NOW, 2).unwrap().total.orders, 0);
        // At 10:30 today the next hour is 11h: yesterday had 3 then.
        let f = crm.demand_forecast(today + 10 * 3600 + 1800, 1, 2).unwrap();
        assert_eq!(f.len(), 1, "{}", b.name);
        assert_eq!(
            (f[0].zone.as_str(), f[0].orders.clone()),
            ("north", vec![3.0, 0.0]),
            "{}",
            b.name
        );
    }
}
