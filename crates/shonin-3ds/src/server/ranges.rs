//! The 3DS Server's card-range cache, filled from the DS's PRes (EMV 3DS: a PReq at least every
//! 24 hours and at most every hour). It answers, for a card number, whether its issuer takes part
//! (no range: the 3DS Server answers U without sending an AReq), which protocol version both the
//! ACS and the DS speak, and the issuer's 3DS Method URL.
//!
//! A PRes without `serialNum` replaces every range; with one, its entries are changes to apply
//! (`actionInd` A add, M modify, D delete) and its `serialNum` is sent with the next PReq.

use serde_json::Value;

use crate::acs::Bounds;
use crate::message::{CardRange, PRes, Pan};
use crate::{MessageVersion, Versions};

/// One range as the DS listed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CachedRange {
    pub bounds: Bounds,
    /// `startRange` and `endRange` as listed (an `actionInd` D or M names a range by them).
    pub start: String,
    pub end: String,
    /// Versions the range's ACS speaks, each with its 3DS Method URL.
    pub acs_versions: Vec<(MessageVersion, Option<String>)>,
    /// Versions the DS speaks for this range.
    pub ds_versions: Vec<MessageVersion>,
}

impl CachedRange {
    /// The highest version that `ours`, the ACS and the DS all speak.
    pub fn version(&self, ours: Versions) -> Option<MessageVersion> {
        self.acs_versions
            .iter()
            .map(|(v, _)| *v)
            .filter(|v| ours.accepts(*v) && self.ds_versions.contains(v))
            .max()
    }

    /// The 3DS Method URL for `version`.
    pub fn method_url(&self, version: MessageVersion) -> Option<&str> {
        self.acs_versions
            .iter()
            .find(|(v, _)| *v == version)
            .and_then(|(_, url)| url.as_deref())
    }
}

/// The cache: every range the DS listed, and the serial number to ask for changes with.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RangeCache {
    ranges: Vec<CachedRange>,
    pub serial_num: Option<String>,
}

/// What one PRes changed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Ranges in the cache afterwards.
    pub ranges: usize,
    /// Entries left out: bounds that are not 13–19 digits, or no version Shonin knows.
    pub skipped: usize,
}

fn versions_between(start: Option<&str>, end: Option<&str>) -> Vec<MessageVersion> {
    let (Some(start), Some(end)) = (
        start.and_then(|s| {
            s.parse::<MessageVersion>()
                .ok()
                .or_else(|| nearest(s, true))
        }),
        end.and_then(|s| {
            s.parse::<MessageVersion>()
                .ok()
                .or_else(|| nearest(s, false))
        }),
    ) else {
        return Vec::new();
    };
    MessageVersion::ALL
        .into_iter()
        .filter(|v| *v >= start && *v <= end)
        .collect()
}

/// A bound Shonin does not know as a version (a 2.3.0, a 2.4.0): the first known version after
/// it (for a start) or the last before it (for an end), compared as dotted numbers.
fn nearest(version: &str, start: bool) -> Option<MessageVersion> {
    let key = |s: &str| -> Option<Vec<u32>> { s.split('.').map(|p| p.parse().ok()).collect() };
    let wanted = key(version)?;
    let known = MessageVersion::ALL
        .into_iter()
        .filter_map(|v| Some((key(v.as_str())?, v)));
    if start {
        known.filter(|(k, _)| *k >= wanted).map(|(_, v)| v).min()
    } else {
        known.filter(|(k, _)| *k <= wanted).map(|(_, v)| v).max()
    }
}

fn text<'a>(entry: &'a CardRange, name: &str) -> Option<&'a str> {
    entry.other.0.get(name).and_then(Value::as_str)
}

/// One PRes entry as a cached range; `None` when it cannot be used. 2.3.1 lists the versions as
/// arrays (`acsProtocolVersions` with their method URLs, `dsProtocolVersions`); earlier versions
/// as start and end, the DS's possibly only at the top of the PRes.
fn cached(entry: &CardRange, pres: &PRes) -> Option<CachedRange> {
    let bounds = Bounds::new(&entry.start_range, &entry.end_range).ok()?;
    let method = entry.three_ds_method_url.clone();
    let (acs_versions, ds_versions): (Vec<(MessageVersion, Option<String>)>, Vec<MessageVersion>) =
        match entry.other.0.get("acsProtocolVersions") {
            Some(Value::Array(list)) => {
                let acs: Vec<(MessageVersion, Option<String>)> = list
                    .iter()
                    .filter_map(|v| {
                        let version = v.get("version")?.as_str()?.parse().ok()?;
                        let url = v
                            .get("threeDSMethodURL")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                            .or_else(|| method.clone());
                        Some((version, url))
                    })
                    .collect();
                let ds = match entry.other.0.get("dsProtocolVersions") {
                    Some(Value::Array(list)) => list
                        .iter()
                        .filter_map(|v| v.as_str()?.parse().ok())
                        .collect(),
                    _ => Vec::new(),
                };
                (acs, ds)
            }
            _ => {
                let top = |name: &str| pres.other.0.get(name).and_then(Value::as_str);
                let acs = versions_between(
                    text(entry, "acsStartProtocolVersion"),
                    text(entry, "acsEndProtocolVersion"),
                )
                .into_iter()
                .map(|v| (v, method.clone()))
                .collect();
                let ds = versions_between(
                    text(entry, "dsStartProtocolVersion").or_else(|| top("dsStartProtocolVersion")),
                    text(entry, "dsEndProtocolVersion").or_else(|| top("dsEndProtocolVersion")),
                );
                (acs, ds)
            }
        };
    if acs_versions.is_empty() || ds_versions.is_empty() {
        return None;
    }
    Some(CachedRange {
        bounds,
        start: entry.start_range.clone(),
        end: entry.end_range.clone(),
        acs_versions,
        ds_versions,
    })
}

impl RangeCache {
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Applies a PRes: without `serialNum` it replaces the cache; with one, its entries change
    /// it. A range that names the same bounds as one held replaces it.
    pub fn apply(&mut self, pres: &PRes) -> Applied {
        let incremental = pres.serial_num.is_some() && self.serial_num.is_some();
        if !incremental {
            self.ranges.clear();
        }
        let mut skipped = 0;
        for entry in pres.card_range_data.iter().flatten() {
            let same = |r: &CachedRange| r.start == entry.start_range && r.end == entry.end_range;
            if entry.action_ind.as_deref() == Some("D") {
                self.ranges.retain(|r| !same(r));
                continue;
            }
            match cached(entry, pres) {
                Some(range) => {
                    self.ranges.retain(|r| !same(r));
                    self.ranges.push(range);
                }
                None => skipped += 1,
            }
        }
        self.serial_num = pres.serial_num.clone();
        Applied {
            ranges: self.ranges.len(),
            skipped,
        }
    }

    /// The range holding `pan`; of several, the narrowest (a DS may list a BIN's sub-range).
    pub fn find(&self, pan: &Pan) -> Option<&CachedRange> {
        self.ranges
            .iter()
            .filter(|r| r.bounds.contains(pan))
            .min_by(|a, b| a.bounds.specificity().cmp(&b.bounds.specificity()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pres(value: Value) -> PRes {
        serde_json::from_value(value).unwrap()
    }

    fn pres_220(serial: Option<&str>, ranges: Value) -> PRes {
        let mut v = json!({
            "messageType": "PRes", "messageVersion": "2.2.0",
            "threeDSServerTransID": "8a880dc0-d2d2-4067-bcb1-b08d1690b26e",
            "dsTransID": "d7c1ee99-9478-44a6-b1f2-391e29c6b340",
            "dsStartProtocolVersion": "2.1.0", "dsEndProtocolVersion": "2.2.0",
            "cardRangeData": ranges,
        });
        if let Some(s) = serial {
            v["serialNum"] = json!(s);
        }
        pres(v)
    }

    #[test]
    fn a_2_2_0_pres_fills_the_cache_and_the_version_is_the_highest_all_speak() {
        let mut cache = RangeCache::default();
        let applied = cache.apply(&pres_220(
            None,
            json!([
                {"startRange": "4012000000006000", "endRange": "4012000000006999",
                 "acsStartProtocolVersion": "2.1.0", "acsEndProtocolVersion": "2.2.0",
                 "threeDSMethodURL": "https://acs.example/method"},
                {"startRange": "1", "endRange": "2",
                 "acsStartProtocolVersion": "2.1.0", "acsEndProtocolVersion": "2.2.0"},
            ]),
        ));
        assert_eq!(
            applied,
            Applied {
                ranges: 1,
                skipped: 1
            }
        );
        let range = cache.find(&Pan::new("4012000000006013")).unwrap();
        let ours = Versions::only(&[MessageVersion::V2_2_0, MessageVersion::V2_3_1]);
        assert_eq!(range.version(ours), Some(MessageVersion::V2_2_0));
        assert_eq!(
            range.method_url(MessageVersion::V2_2_0),
            Some("https://acs.example/method")
        );
        assert!(cache.find(&Pan::new("4012000000007013")).is_none());
        assert_eq!(
            range.version(Versions::only(&[MessageVersion::V2_3_1])),
            None,
            "no common version"
        );
    }

    #[test]
    fn a_2_3_1_pres_lists_versions_as_arrays() {
        let mut cache = RangeCache::default();
        cache.apply(&pres(json!({
            "messageType": "PRes", "messageVersion": "2.3.1",
            "threeDSServerTransID": "8a880dc0-d2d2-4067-bcb1-b08d1690b26e",
            "dsTransID": "d7c1ee99-9478-44a6-b1f2-391e29c6b340",
            "cardRangeData": [{
                "startRange": "4012000000006000", "endRange": "4012000000006999",
                "acsProtocolVersions": [
                    {"version": "2.2.0"},
                    {"version": "2.3.1", "threeDSMethodURL": "https://acs.example/m231"},
                    {"version": "2.4.0"}
                ],
                "dsProtocolVersions": ["2.2.0", "2.3.1"]
            }]
        })));
        let range = cache.find(&Pan::new("4012000000006013")).unwrap();
        assert_eq!(range.version(Versions::ALL), Some(MessageVersion::V2_3_1));
        assert_eq!(
            range.method_url(MessageVersion::V2_3_1),
            Some("https://acs.example/m231")
        );
        assert_eq!(range.method_url(MessageVersion::V2_2_0), None);
    }

    #[test]
    fn a_pres_with_a_serial_number_changes_the_cache_without_one_replaces_it() {
        let entry = |start: &str, end: &str, action: &str| {
            json!({"startRange": start, "endRange": end, "actionInd": action,
                   "acsStartProtocolVersion": "2.2.0", "acsEndProtocolVersion": "2.2.0"})
        };
        let mut cache = RangeCache::default();
        cache.apply(&pres_220(
            Some("1"),
            json!([
                entry("4012000000006000", "4012000000006999", "A"),
                entry("5555000000000000", "5555999999999999", "A")
            ]),
        ));
        assert_eq!((cache.len(), cache.serial_num.as_deref()), (2, Some("1")));
        let applied = cache.apply(&pres_220(
            Some("2"),
            json!([
                entry("5555000000000000", "5555999999999999", "D"),
                entry("4111110000000000", "4111119999999999", "A")
            ]),
        ));
        assert_eq!(applied.ranges, 2);
        assert!(cache.find(&Pan::new("5555555555554444")).is_none());
        assert!(cache.find(&Pan::new("4111111111111111")).is_some());
        assert_eq!(cache.serial_num.as_deref(), Some("2"));
        cache.apply(&pres_220(
            None,
            json!([entry("4111110000000000", "4111119999999999", "A")]),
        ));
        assert_eq!((cache.len(), cache.serial_num.as_deref()), (1, None));
        assert!(cache.find(&Pan::new("4012000000006013")).is_none());
    }

    #[test]
    fn the_narrowest_range_wins_and_unknown_version_bounds_are_clamped() {
        let mut cache = RangeCache::default();
        cache.apply(&pres_220(
            None,
            json!([
                {"startRange": "4000000000000000", "endRange": "4999999999999999",
                 "acsStartProtocolVersion": "2.1.0", "acsEndProtocolVersion": "2.1.0"},
                {"startRange": "4012000000006000", "endRange": "4012000000006999",
                 "acsStartProtocolVersion": "2.0.0", "acsEndProtocolVersion": "2.9.9"}
            ]),
        ));
        let range = cache.find(&Pan::new("4012000000006013")).unwrap();
        assert_eq!(range.start, "4012000000006000");
        assert_eq!(range.version(Versions::ALL), Some(MessageVersion::V2_2_0));
    }
}
