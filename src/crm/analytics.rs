//! Analytics: what a merchant's delivered orders say (volume by hour and
//! day, dish ranking and the dishes in decline, rider KPIs) and the demand
//! per zone with a short-horizon forecast the dispatcher can position idle
//! riders by.
//!
//! Pure: sale lines in (one per delivered order, written with the order's
//! CRM commit), figures out. Time comes in as `now_secs`; days and hours
//! are UTC, like the rest of the CRM.

use crate::base::CityTime;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Days one query reads at most.
const DAY_SECS: i64 = 86_400;
pub const DAYS_MAX: i64 = 90;
/// Hours a forecast looks ahead at most.
pub const HORIZON_HOURS_MAX: u32 = 24;
/// Weight of each older day in the forecast (the day before counts 1).
const FORECAST_DECAY: f64 = 0.8;
/// A dish is in decline when its last-week quantity fell by this share
/// or more from the week before, from at least this many.
const DECLINE_SHARE: f64 = 0.3;
const DECLINE_FROM_QTY: u64 = 5;

/// One delivered order as analytics keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sale {
    pub order: String,
    pub merchant: String,
    pub at_secs: i64,
    pub amount_cents: i64,
    /// (dish, quantity, price in cents).
    pub items: Vec<(String, u32, i64)>,
    pub zone: Option<String>,
    pub rider: Option<String>,
    /// Delivered this long after the promise (None: not known).
    pub late_secs: Option<i64>,
}

/// Orders and revenue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Volume {
    pub orders: u64,
    pub revenue_cents: i64,
}

/// A dish's sales: in the window, and the last 7 days against the 7
/// before.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DishSales {
    pub dish: String,
    pub quantity: u64,
    pub revenue_cents: i64,
    pub last_week: u64,
    pub week_before: u64,
    /// Down by 30 % or more from at least 5 a week.
    pub declining: bool,
}

/// A rider's record in the window.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RiderKpi {
    pub rider: String,
    pub deliveries: u64,
    /// Deliveries with a known promise that were not late, over those.
    pub on_time_rate: Option<f64>,
    pub ratings: u64,
    pub mean_rating: Option<f64>,
}

/// A merchant's report.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub from_day: i64,
    pub days: i64,
    pub total: Volume,
    /// Index = hour of day (UTC).
    pub by_hour: Vec<Volume>,
    /// Day number (Unix days, as a JSON key) → volume.
    #[schema(value_type = BTreeMap<String, Volume>)]
    pub by_day: BTreeMap<i64, Volume>,
    /// Best sellers first.
    pub dishes: Vec<DishSales>,
    pub riders: Vec<RiderKpi>,
}

/// Expected orders in one zone for the coming hours.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ZoneForecast {
    pub zone: String,
    /// Unix hour (secs / 3600) of each figure in `orders`.
    pub from_hour: i64,
    pub orders: Vec<f64>,
}

/// The merchant report over the `days` before `now_secs` (today included).
/// `ratings` are (rider, rating) of the window's reviews.
pub fn report(city: &CityTime, sales: &[Sale], ratings: &[(String, u8)], now_secs: i64, days: i64) -> Report {
    let today = city.day(now_secs);
    let from_day = today - days + 1;
    let mut total = Volume::default();
    let mut by_hour = vec![Volume::default(); 24];
    let mut by_day: BTreeMap<i64, Volume> = (from_day..=today).map(|d| (d, Volume::default())).collect();
    let mut dishes: BTreeMap<&str, DishSales> = BTreeMap::new();
    let mut riders: BTreeMap<&str, (u64, u64, u64, u64, u64)> = BTreeMap::new();
    // One offset lookup per sale: its local day and hour.
    let local = sales
        .iter()
        .map(|s| (s, city.local_secs(s.at_secs)))
        .map(|(s, t)| {
            (
                s,
                t.div_euclid(DAY_SECS),
                (t.rem_euclid(DAY_SECS) / 3600) as usize,
            )
        });
    for (s, day, hour) in local.filter(|(_, day, _)| (from_day..=today).contains(day)) {
        let add = |v: &mut Volume| {
            v.orders += 1;
            v.revenue_cents += s.amount_cents;
        };
        add(&mut total);
        add(&mut by_hour[hour]);
        if let Some(v) = by_day.get_mut(&day) {
            add(v);
        }
        let age_days = today - day;
        for (dish, qty, cents) in &s.items {
            let d = dishes.entry(dish).or_insert_with(|| DishSales {
                dish: dish.clone(),
                quantity: 0,
                revenue_cents: 0,
                last_week: 0,
                week_before: 0,
                declining: false,
            });
            d.quantity += u64::from(*qty);
            d.revenue_cents += cents * i64::from(*qty);
            match age_days {
                0..7 => d.last_week += u64::from(*qty),
                7..14 => d.week_before += u64::from(*qty),
                _ => {}
            }
        }
        if let Some(r) = &s.rider {
            let e = riders.entry(r).or_default();
            e.0 += 1;
            if let Some(late) = s.late_secs {
                e.1 += 1;
                e.2 += u64::from(late <= 0);
            }
        }
    }
    for (rider, rating) in ratings {
        let e = riders.entry(rider).or_default();
        e.3 += 1;
        e.4 += u64::from(*rating);
    }
    let mut dishes: Vec<DishSales> = dishes
        .into_values()
        .map(|mut d| {
            d.declining = d.week_before >= DECLINE_FROM_QTY
                && (d.last_week as f64) <= (d.week_before as f64) * (1.0 - DECLINE_SHARE);
            d
        })
        .collect();
    dishes.sort_by(|a, b| b.quantity.cmp(&a.quantity).then_with(|| a.dish.cmp(&b.dish)));
    let ratio = |n: u64, of: u64| (of > 0).then(|| n as f64 / of as f64);
    let riders = riders
        .into_iter()
        .map(|(rider, (deliveries, known, on_time, ratings, sum))| RiderKpi {
            rider: rider.to_string(),
            deliveries,
            on_time_rate: ratio(on_time, known),
            ratings,
            mean_rating: ratio(sum, ratings),
        })
        .collect();
    Report {
        from_day,
        days,
        total,
        by_hour,
        by_day,
        dishes,
        riders,
    }
}

/// Orders per zone for each of the `horizon_hours` after `now_secs`: for
/// each coming hour of day, the mean of that hour over the `days` before
/// today, the nearer days weighing more (0.8 per day back). `demand` is
/// (zone, Unix hour, orders).
pub fn forecast(
    city: &CityTime,
    demand: &[(String, i64, u64)],
    now_secs: i64,
    days: i64,
    horizon_hours: u32,
) -> Vec<ZoneForecast> {
    let today = city.day(now_secs);
    let from_hour = now_secs.div_euclid(3600) + 1;
    let mut by_zone: BTreeMap<&str, BTreeMap<i64, u64>> = BTreeMap::new();
    for (zone, hour, n) in demand {
        *by_zone.entry(zone).or_default().entry(*hour).or_default() += n;
    }
    // The Unix hours each coming hour is averaged over: the same local
    // hour of each of the `days` before today, with its weight. The same
    // for every zone, so worked out once.
    let day_start_hours: Vec<i64> = (1..=days)
        .map(|back| city.day_start_secs(today - back).div_euclid(3600))
        .collect();
    let past: Vec<Vec<(i64, f64)>> = (0..i64::from(horizon_hours))
        .map(|h| {
            let hour_of_day = i64::from(city.hour((from_hour + h) * 3600));
            day_start_hours
                .iter()
                .zip(0..)
                .map(|(start, back)| (start + hour_of_day, FORECAST_DECAY.powi(back)))
                .collect()
        })
        .collect();
    by_zone
        .into_iter()
        .map(|(zone, hours)| {
            let orders = past
                .iter()
                .map(|same_hours| {
                    let (mut sum, mut weights) = (0.0, 0.0);
                    for (hour, weight) in same_hours {
                        sum += weight * hours.get(hour).copied().unwrap_or(0) as f64;
                        weights += weight;
                    }
                    if weights > 0.0 { sum / weights } else { 0.0 }
                })
                .collect();
            ZoneForecast {
                zone: zone.to_string(),
                from_hour,
                orders,
            }
        })
        .collect()
}

/// The grid cell of a point, about 1 km on a side (0.01 degree): the zone
/// of a drop-off when the merchant names none.
pub fn grid_zone(lat: f64, lng: f64) -> String {
    format!(
        "grid:{}:{}",
        (lat * 100.0).floor() as i64,
        (lng * 100.0).floor() as i64
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY0: i64 = 20_775 * DAY_SECS; // midnight UTC

    fn sale(order: &str, at_secs: i64, dish: &str, qty: u32, rider: &str, late_secs: Option<i64>) -> Sale {
        Sale {
            order: order.into(),
            merchant: "m1".into(),
            at_secs,
            amount_cents: 1000 * i64::from(qty),
            items: vec![(dish.into(), qty, 1000)],
            zone: Some("north".into()),
            rider: Some(rider.into()),
            late_secs,
        }
    }

    #[test]
    fn hours_and_days_are_the_citys() {
        // 23:30 UTC on DAY0 is 07:30 the next day in Shanghai (+8).
        let at = DAY0 + 23 * 3600 + 1800;
        let sales = [sale("a", at, "noodles", 1, "r1", None)];
        let shanghai = CityTime::new("Asia/Shanghai").unwrap();
        let utc = report(&CityTime::utc(), &sales, &[], at, 1);
        assert_eq!((utc.by_hour[23].orders, utc.total.orders), (1, 1));
        // Asked at 08:00 local of that next day: today's sale, hour 7.
        let local = report(&shanghai, &sales, &[], at + 1800, 1);
        assert_eq!((local.by_hour[7].orders, local.by_hour[23].orders), (1, 0));
        assert_eq!(
            local.by_day.keys().copied().collect::<Vec<_>>(),
            [DAY0 / DAY_SECS + 1]
        );
        assert_eq!(local.total.orders, 1);
    }

    #[test]
    fn volume_dishes_and_riders_add_up_by_hand() {
        let now = DAY0 + 20 * 3600;
        // Noodles: 10 a week ago (days 7-13), 3 this week: declining.
        // Rice: 4 and 6: growing. One sale outside the 28-day window.
        let mut sales = vec![
            sale("a", now - 8 * DAY_SECS, "noodles", 10, "r1", Some(-60)),
            sale("b", now - DAY_SECS, "noodles", 3, "r1", Some(120)),
            sale("c", now - 9 * DAY_SECS, "rice", 4, "r2", None),
            sale("d", now - 3600, "rice", 6, "r2", Some(0)),
            sale("old", now - 40 * DAY_SECS, "rice", 50, "r2", Some(0)),
        ];
        sales.reverse();
        let r = report(
            &CityTime::utc(),
            &sales,
            &[("r1".into(), 5), ("r1".into(), 2)],
            now,
            28,
        );
        assert_eq!(
            r.total,
            Volume {
                orders: 4,
                revenue_cents: 23_000
            }
        );
        assert_eq!(r.by_hour[20].orders, 3, "three at 20h, one at 19h");
        assert_eq!(r.by_hour[19].orders, 1);
        assert_eq!(r.by_day.len(), 28);
        assert_eq!(r.by_day[&20_774].orders, 1);
        let names: Vec<(&str, u64, bool)> = r
            .dishes
            .iter()
            .map(|d| (d.dish.as_str(), d.quantity, d.declining))
            .collect();
        assert_eq!(names, [("noodles", 13, true), ("rice", 10, false)]);
        let r1 = &r.riders[0];
        assert_eq!(
            (r1.deliveries, r1.on_time_rate, r1.mean_rating),
            (2, Some(0.5), Some(3.5))
        );
        let r2 = &r.riders[1];
        assert_eq!((r2.deliveries, r2.on_time_rate, r2.ratings), (2, Some(1.0), 0));
    }

    #[test]
    fn the_forecast_weighs_recent_days_of_the_same_hour() {
        let now = DAY0 + 10 * 3600 + 600; // 10:10: the next hour is 11h
        let hour = |days_back: i64, h: i64| (DAY0 / 3600) - days_back * 24 + h;
        // 11h: 10 orders yesterday, 5 the day before; 12h: 2 every day.
        let mut demand = vec![
            ("north".to_string(), hour(1, 11), 10),
            ("north".to_string(), hour(2, 11), 5),
        ];
        for back in 1..=2 {
            demand.push(("north".into(), hour(back, 12), 2));
        }
        let f = forecast(&CityTime::utc(), &demand, now, 2, 2);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].from_hour, DAY0 / 3600 + 11);
        // (1 × 10 + 0.8 × 5) / 1.8 and (2 + 0.8 × 2) / 1.8 = 2.
        assert!((f[0].orders[0] - 14.0 / 1.8).abs() < 1e-9, "{:?}", f[0].orders);
        assert!((f[0].orders[1] - 2.0).abs() < 1e-9);
    }
}
