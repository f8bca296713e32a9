//! CRM rules' settings (`[crm]` in config.toml): tiers, points, grades,
//! coupons. Plain data; the rules read it, nothing here does I/O.

use serde::{Deserialize, Serialize};

/// All CRM settings.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CrmConfig {
    /// Where the CRM keeps its data: "embedded" (redb file in the data
    /// dir) or "redis".
    pub store: String,
    /// Redis URL for `store = "redis"`.
    pub redis_url: String,
    /// Prefix of every Redis key, so several deployments share a server.
    pub redis_prefix: String,
    /// A write is acknowledged once this many replicas hold it (`WAIT`);
    /// 0: the master's reply is enough.
    pub redis_wait_replicas: u32,
    /// How long a write waits for them before it fails (HTTP 503).
    pub redis_wait_ms: u64,
    /// Keys sealing personal fields at rest, `id:base64-of-32-bytes,...`,
    /// the first current (see `crm::crypto`). Set it from the environment
    /// (`WAIMAI_CRM__ENCRYPTION_KEYS`), never in a file in the repo. Empty:
    /// `waimai serve` on the embedded store keeps a generated key in
    /// `<data_dir>/crm.key`; on Redis it refuses to start.
    pub encryption_keys: String,
    /// How often `waimai serve` runs the expiry sweep and the birthday
    /// coupons (both idempotent).
    pub jobs_every_secs: u64,
    pub points: PointsRules,
    pub tiers: TierRules,
    pub grades: GradeRules,
    /// Threshold discounts applied automatically at checkout: spend at
    /// least `min_spend_cents`, get `off_cents` off (the best one applies).
    pub thresholds: Vec<super::coupons::Threshold>,
    /// Coupon templates every deployment starts with (new-user, birthday).
    pub templates: Vec<super::coupons::CouponTemplate>,
    /// How reviews are classified and answered.
    pub feedback: super::feedback::FeedbackRules,
}

/// How points are earned, kept and given back.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PointsRules {
    /// Points per whole currency unit spent (100 cents), before the tier
    /// multiplier.
    pub per_unit: u64,
    /// A lot of earned points expires this many days after it was earned.
    pub expire_days: i64,
    /// Points given back by a refund whose lot already expired live this
    /// many more days.
    pub restore_grace_days: i64,
    /// What the order earned and spent is remembered this long, so a
    /// refund within it can reverse it.
    pub refund_window_days: i64,
    /// Value of one point in cents when spent at checkout.
    pub cents_per_point: u64,
}

/// Tier thresholds over the trailing `window_days`, and their benefits.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TierRules {
    pub window_days: i64,
    pub silver_spend_cents: i64,
    pub silver_orders: u32,
    pub gold_spend_cents: i64,
    pub gold_orders: u32,
    /// A tier is kept at least this long before it can drop.
    pub keep_days: i64,
    /// Points multipliers in percent: regular, silver, gold.
    pub multiplier_pct: [u64; 3],
}

/// Frequency classes and value grades (recency, frequency, monetary).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GradeRules {
    /// Orders in the last 30 days for the high and mid frequency classes.
    pub high_orders_30d: u32,
    pub mid_orders_30d: u32,
    /// Grade A: ordered within `a_recency_days`, at least `a_orders_90d`
    /// orders and `a_spend_90d_cents` spent in 90 days.
    pub a_recency_days: i64,
    pub a_orders_90d: u32,
    pub a_spend_90d_cents: i64,
    /// Grade B: ordered within `b_recency_days` and at least
    /// `b_orders_90d` orders in 90 days. Everyone else is C.
    pub b_recency_days: i64,
    pub b_orders_90d: u32,
}

impl CrmConfig {
    /// Errors a rule would otherwise trip over at run time.
    pub fn check(&self) -> Result<(), String> {
        let p = &self.points;
        if p.expire_days <= 0 || p.refund_window_days <= 0 || p.restore_grace_days <= 0 {
            return Err(
                "crm.points: expire_days, refund_window_days and restore_grace_days must be positive".into(),
            );
        }
        let t = &self.tiers;
        if t.window_days <= 0 || t.keep_days < 0 {
            return Err("crm.tiers: window_days must be positive, keep_days not negative".into());
        }
        if t.gold_spend_cents < t.silver_spend_cents || t.gold_orders < t.silver_orders {
            return Err("crm.tiers: gold thresholds must be at least silver's".into());
        }
        if self.jobs_every_secs == 0 {
            return Err("crm.jobs_every_secs must be positive".into());
        }
        if self.store != "embedded" && self.store != "redis" {
            return Err(format!("crm.store {:?}: \"embedded\" or \"redis\"", self.store));
        }
        if self.redis_wait_replicas > 0 && !(1..=5_000).contains(&self.redis_wait_ms) {
            return Err("crm.redis_wait_ms: 1 to 5000 when crm.redis_wait_replicas is positive".into());
        }
        if self.redis_prefix.contains(['{', '}']) {
            return Err("crm.redis_prefix must not contain braces (they are the hash tag)".into());
        }
        if let Some(th) = self
            .thresholds
            .iter()
            .find(|t| t.off_cents <= 0 || t.off_cents >= t.min_spend_cents)
        {
            return Err(format!(
                "crm.thresholds: {th:?} must take off less than its minimum spend"
            ));
        }
        for t in &self.templates {
            t.check().map_err(|e| format!("crm.templates: {e}"))?;
        }
        self.feedback.check()?;
        let apology = &self.feedback.apology_template;
        if !apology.is_empty()
            && self
                .templates
                .iter()
                .all(|t| &t.id != apology || t.total_cap.is_some())
        {
            return Err(format!(
                "crm.feedback.apology_template {apology:?}: must name a template of crm.templates without a total cap"
            ));
        }
        Ok(())
    }
}
