//! The restaurants a city serves: who may post their orders, where they
//! are, how long their kitchens take, how far they deliver, when they are
//! open. Onboarded and changed over the API while the city runs, and
//! journaled like orders: the journal, not the seed file, is the record of
//! which restaurant holds which engine index (orders name restaurants by
//! index), so indices never shift across restarts.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::base::{CityTime, Secs};
use crate::map::LatLng;

/// Longest typical preparation a restaurant may announce.
pub const PREP_SECS_MAX: Secs = 4 * 3600;
/// Bounds of a delivery area, as the ride from the restaurant.
pub const MAX_RIDE_SECS_MIN: Secs = 60;
pub const MAX_RIDE_SECS_MAX: Secs = 4 * 3600;
const ID_LEN_MAX: usize = 64;
const NAME_LEN_MAX: usize = 100;
const HOURS_MAX: usize = 28;
const DAY_SECS: Secs = 86_400;

/// A restaurant the server dispatches for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Restaurant {
    pub id: String,
    /// The merchant whose tokens may post its orders and see them.
    pub merchant: String,
    #[serde(default)]
    pub name: String,
    pub at: LatLng,
    /// Typical preparation: an order's ready time when the merchant gives
    /// none.
    #[serde(default)]
    pub prep_secs: Secs,
    /// Its delivery area: customers further than this ride are refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ride_secs: Option<Secs>,
    /// When it takes orders, in the city's civil time; none: always.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hours: Vec<OpeningHours>,
    /// Off: it takes no new orders and finishes the ones it has.
    #[serde(default = "yes")]
    pub open: bool,
}

fn yes() -> bool {
    true
}

/// One opening span on some weekdays: `open` to `close` local time
/// ("HH:MM"); a `close` at or before `open` ends after midnight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpeningHours {
    #[schema(min_items = 1, max_items = 7)]
    pub days: Vec<Weekday>,
    /// Local time it opens.
    #[schema(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$", example = "11:00")]
    pub open: String,
    /// Local time it closes (24:00 is midnight at the day's end).
    #[schema(pattern = "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$", example = "22:30")]
    pub close: String,
}

/// A day of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Weekday {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

/// A field and why it is refused.
pub type FieldError = (&'static str, String);

impl Restaurant {
    /// A restaurant of the seed file: its own merchant, always open, no
    /// delivery limit, orders ready when the merchant says (else at once).
    pub fn seed(id: String, at: LatLng) -> Self {
        Self {
            merchant: id.clone(),
            name: id.clone(),
            id,
            at,
            prep_secs: 0,
            max_ride_secs: None,
            hours: Vec::new(),
            open: true,
        }
    }

    /// Checks every field a client gave (coordinates are checked when
    /// they are parsed).
    pub fn check(&self) -> Result<(), FieldError> {
        check_id("id", &self.id)?;
        if !crate::crm::valid_id(&self.merchant) {
            return Err(("merchant", crate::crm::ID_RULE.into()));
        }
        let name_len = self.name.chars().count();
        if name_len == 0 || name_len > NAME_LEN_MAX || self.name.chars().any(char::is_control) {
            return Err((
                "name",
                format!("1 to {NAME_LEN_MAX} characters, no control characters"),
            ));
        }
        if !(0..=PREP_SECS_MAX).contains(&self.prep_secs) {
            return Err(("prep_secs", format!("must be within 0..={PREP_SECS_MAX}")));
        }
        if let Some(ride) = self.max_ride_secs
            && !(MAX_RIDE_SECS_MIN..=MAX_RIDE_SECS_MAX).contains(&ride)
        {
            return Err((
                "max_ride_secs",
                format!("must be within {MAX_RIDE_SECS_MIN}..={MAX_RIDE_SECS_MAX}"),
            ));
        }
        if self.hours.len() > HOURS_MAX {
            return Err(("hours", format!("at most {HOURS_MAX} spans")));
        }
        for (i, span) in self.hours.iter().enumerate() {
            span.check().map_err(|(field, reason)| {
                let field: &'static str = match field {
                    "days" => "hours[].days",
                    "open" => "hours[].open",
                    _ => "hours[].close",
                };
                (field, format!("hours[{i}]: {reason}"))
            })?;
        }
        Ok(())
    }

    /// Why it takes no order at `unix_secs`, if it does not.
    pub fn closed_reason(&self, city: &CityTime, unix_secs: Secs) -> Option<String> {
        if !self.open {
            return Some(format!("restaurant {} is closed", self.id));
        }
        if self.hours.is_empty() {
            return None;
        }
        let local = city.local_secs(unix_secs);
        let day = local.div_euclid(DAY_SECS);
        // 1970-01-01 was a Thursday (index 3 from Monday).
        let weekday = (day + 3).rem_euclid(7) as usize;
        let secs = local.rem_euclid(DAY_SECS);
        let open = self.hours.iter().any(|span| span.covers(weekday, secs));
        (!open).then(|| format!("restaurant {} is outside its opening hours", self.id))
    }
}

impl OpeningHours {
    fn check(&self) -> Result<(), FieldError> {
        if self.days.is_empty() || self.days.len() > 7 {
            return Err(("days", "1 to 7 of mon, tue, wed, thu, fri, sat, sun".into()));
        }
        match hhmm(&self.open) {
            Some(s) if s < DAY_SECS => {}
            _ => return Err(("open", format!("{:?} is not HH:MM (00:00-23:59)", self.open))),
        }
        if hhmm(&self.close).is_none() {
            return Err(("close", format!("{:?} is not HH:MM (00:00-24:00)", self.close)));
        }
        Ok(())
    }

    /// Whether the span holds second `secs` of weekday `weekday` (0 =
    /// Monday), counting a span that runs past midnight from the day before.
    fn covers(&self, weekday: usize, secs: Secs) -> bool {
        let (Some(open), Some(close)) = (hhmm(&self.open), hhmm(&self.close)) else {
            return false;
        };
        let on = |d: usize| self.days.iter().any(|x| *x as usize == d);
        if open < close {
            on(weekday) && (open..close).contains(&secs)
        } else {
            (on(weekday) && secs >= open) || (on((weekday + 6) % 7) && secs < close)
        }
    }
}

/// Seconds of the day of "HH:MM" (24:00 allowed).
fn hhmm(text: &str) -> Option<Secs> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (Secs, Secs) = (h.parse().ok()?, m.parse().ok()?);
    let secs = h * 3600 + m * 60;
    (h <= 24 && m < 60 && secs <= DAY_SECS).then_some(secs)
}

/// What a restaurant id may be (it travels in paths and fixtures).
pub const RESTAURANT_ID_PATTERN: &str = "^[A-Za-z0-9_-]{1,64}$";

/// Whether `text` is 1 to `len_max` of `A-Z a-z 0-9 _ -`: the shape of
/// restaurant ids, vehicle names and zones (they travel in paths, files
/// and keys).
pub fn is_slug(text: &str, len_max: usize) -> bool {
    !text.is_empty()
        && text.len() <= len_max
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Restaurant ids: 1-64 of `A-Z a-z 0-9 _ -`.
fn check_id(field: &'static str, id: &str) -> Result<(), FieldError> {
    if is_slug(id, ID_LEN_MAX) {
        Ok(())
    } else {
        Err((field, format!("1 to {ID_LEN_MAX} of A-Z a-z 0-9 _ -")))
    }
}

/// Every restaurant by engine index, and the index of each id.
#[derive(Debug, Clone, Default)]
pub(crate) struct Directory {
    list: Vec<Restaurant>,
    by_id: HashMap<String, u32>,
}

impl Directory {
    pub fn get(&self, id: &str) -> Option<(u32, &Restaurant)> {
        let i = *self.by_id.get(id)?;
        Some((i, &self.list[i as usize]))
    }

    pub fn at(&self, index: u32) -> Option<&Restaurant> {
        self.list.get(index as usize)
    }

    /// Where restaurant `index` is. Every index the engine names is here
    /// (both are only ever extended together).
    pub fn position(&self, index: u32) -> LatLng {
        let at = self.at(index).map(|r| r.at);
        debug_assert!(at.is_some(), "restaurant index {index} unknown to the directory");
        at.unwrap_or(LatLng { lat: 0.0, lng: 0.0 })
    }

    pub fn all(&self) -> &[Restaurant] {
        &self.list
    }

    /// The index a new restaurant gets.
    pub fn next_index(&self) -> u32 {
        self.list.len() as u32
    }

    /// Sets restaurant `index` (the next index adds one). False if that
    /// would skip an index or give one id two indices (a damaged journal).
    pub fn put(&mut self, index: u32, restaurant: Restaurant) -> bool {
        let i = index as usize;
        match self.by_id.get(&restaurant.id) {
            Some(&known) if known != index => return false,
            _ => {}
        }
        if i == self.list.len() {
            self.by_id.insert(restaurant.id.clone(), index);
            self.list.push(restaurant);
        } else if i < self.list.len() && self.list[i].id == restaurant.id {
            self.list[i] = restaurant;
        } else {
            return false;
        }
        true
    }
}

/// The restaurants a server starts with, before its journal is replayed
/// over them, and the seeds to journal now. A journal that names no
/// restaurant (a new city, or one journaled before restaurants were)
/// takes the seed file in its order; otherwise each index starts as the
/// journal first named it, and only seeds it does not know are added.
/// Errors name the first bad journal line's restaurant.
pub(crate) fn at_start(
    seeds: Vec<Restaurant>,
    journaled: impl Iterator<Item = (u32, Restaurant)>,
) -> Result<(Directory, Vec<(u32, Restaurant)>), String> {
    let mut dir = Directory::default();
    for (index, restaurant) in journaled {
        if dir.at(index).is_some() {
            continue;
        }
        let id = restaurant.id.clone();
        if !dir.put(index, restaurant) {
            return Err(format!(
                "journal: restaurant {id:?} at index {index} skips or reuses an index"
            ));
        }
    }
    let mut added = Vec::new();
    for seed in seeds {
        if dir.get(&seed.id).is_none() {
            let index = dir.next_index();
            added.push((index, seed.clone()));
            dir.put(index, seed);
        }
    }
    Ok((dir, added))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> LatLng {
        LatLng::new(43.73, 7.42).expect("valid")
    }

    fn lunch(days: &[&str], open: &str, close: &str) -> Restaurant {
        Restaurant {
            hours: vec![OpeningHours {
                days: days
                    .iter()
                    .map(|d| serde_json::from_value(serde_json::json!(d)).expect("a weekday"))
                    .collect(),
                open: open.into(),
                close: close.into(),
            }],
            ..Restaurant::seed("r1".into(), at())
        }
    }

    /// 2026-12-07 is a Monday; in Europe/Monaco it is UTC+1 in December.
    const MONDAY_UTC_MIDNIGHT: Secs = 1_796_601_600;

    #[test]
    fn opening_hours_are_local_and_may_run_past_midnight() {
        let city = CityTime::new("Europe/Monaco").expect("zone");
        let r = lunch(&["mon"], "11:00", "14:00");
        // 10:30 UTC is 11:30 in Monaco: open; 13:30 UTC is 14:30: closed.
        assert!(
            r.closed_reason(&city, MONDAY_UTC_MIDNIGHT + 10 * 3600 + 1800)
                .is_none()
        );
        assert!(
            r.closed_reason(&city, MONDAY_UTC_MIDNIGHT + 13 * 3600 + 1800)
                .is_some()
        );
        // A Tuesday at noon: closed.
        assert!(
            r.closed_reason(&city, MONDAY_UTC_MIDNIGHT + 86_400 + 11 * 3600)
                .is_some()
        );
        let late = lunch(&["mon"], "22:00", "02:00");
        // Tuesday 01:00 local (00:00 UTC) belongs to Monday's late span.
        assert!(late.closed_reason(&city, MONDAY_UTC_MIDNIGHT + 86_400).is_none());
        // Tuesday 02:30 local does not; nor Monday 01:00 local.
        assert!(
            late.closed_reason(&city, MONDAY_UTC_MIDNIGHT + 86_400 + 5400)
                .is_some()
        );
        assert!(late.closed_reason(&city, MONDAY_UTC_MIDNIGHT).is_some());
        let closed = Restaurant {
            open: false,
            ..Restaurant::seed("r2".into(), at())
        };
        assert!(closed.closed_reason(&city, MONDAY_UTC_MIDNIGHT).is_some());
    }

    #[test]
    fn checks_name_the_field() {
        let field = |r: Restaurant| r.check().err().map(|(f, _)| f);
        assert_eq!(field(Restaurant::seed("r1".into(), at())), None);
        assert_eq!(field(Restaurant::seed("r 1".into(), at())), Some("id"));
        assert_eq!(field(lunch(&["mon"], "11:00", "24:00")), None);
        assert_eq!(field(lunch(&[], "11:00", "14:00")), Some("hours[].days"));
        assert_eq!(field(lunch(&["mon"], "24:00", "14:00")), Some("hours[].open"));
        assert_eq!(field(lunch(&["mon"], "11:00", "14:60")), Some("hours[].close"));
        let far = Restaurant {
            max_ride_secs: Some(10),
            ..Restaurant::seed("r1".into(), at())
        };
        assert_eq!(field(far), Some("max_ride_secs"));
    }

    #[test]
    fn the_journal_fixes_indices_and_only_new_seeds_are_added() {
        let seed = |id: &str| Restaurant::seed(id.into(), at());
        // A new city: the seed file's order.
        let (dir, added) = at_start(vec![seed("a"), seed("b")], std::iter::empty()).expect("ok");
        assert_eq!(added.len(), 2);
        assert_eq!(dir.get("b").map(|(i, _)| i), Some(1));
        // Later the file is reordered and grows: indices stay as journaled.
        let journaled = vec![(0, seed("a")), (1, seed("b")), (2, seed("api")), (0, seed("a"))];
        let (dir, added) =
            at_start(vec![seed("c"), seed("b"), seed("a")], journaled.into_iter()).expect("ok");
        assert_eq!(dir.get("a").map(|(i, _)| i), Some(0));
        assert_eq!(dir.get("api").map(|(i, _)| i), Some(2));
        assert_eq!(
            added.iter().map(|(i, r)| (*i, r.id.as_str())).collect::<Vec<_>>(),
            vec![(3, "c")]
        );
        // A journal that skips an index is refused.
        assert!(at_start(Vec::new(), vec![(1, seed("x"))].into_iter()).is_err());
    }
}
