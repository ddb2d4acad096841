//! A Directory Server's routing, as pure functions, for the DS simulator (`shonin ds-sim`): the
//! card-range table, an AReq routed by its card number and stamped with the DS's IDs, and the
//! PRes that hands the table to 3DS Servers. The simulator is for tests and integrators, not
//! production: a real DS is the card scheme's.

use serde_json::{Map, Value, json};

use crate::acs::CardRange;
use crate::message::{AReq, Elements, PReq, PRes, PResType};
use crate::{ErrorCode, Identified, MessageType, MessageVersion, Refused, Rejection};

/// One card range of the DS's table: where its AReqs go, and which versions its ACS speaks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DsRange {
    pub range: CardRange,
    /// The bounds as configured (13–19 digits), as the PRes lists them.
    pub start: String,
    pub end: String,
    /// The ACS's AReq endpoint.
    pub acs_url: String,
    pub acs_start_version: MessageVersion,
    pub acs_end_version: MessageVersion,
    pub three_ds_method_url: Option<String>,
}

/// The DS's own identity and versions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DsProfile {
    /// `dsReferenceNumber` (EMVCo-assigned; ≤ 32 characters).
    pub reference_number: String,
    /// Where ACSs send the RReq (`dsURL`).
    pub results_url: String,
    pub start_version: MessageVersion,
    pub end_version: MessageVersion,
}

fn identified(areq: &AReq) -> Identified {
    Identified {
        message_type: Some(MessageType::AReq),
        message_version: Some(areq.message_version),
        three_ds_server_trans_id: Some(areq.three_ds_server_trans_id.clone()),
        ..Identified::default()
    }
}

/// The range whose ACS takes `areq`: the first that holds its card number. Refused when none
/// does (Erro 305 naming `acctNumber`, never its value) or when that ACS does not speak the
/// AReq's version (102).
pub fn route<'a>(ranges: &'a [DsRange], areq: &AReq) -> Result<&'a DsRange, Box<Refused>> {
    let refused = |rejection| {
        Box::new(Refused {
            rejection,
            identified: identified(areq),
        })
    };
    let Some(range) = ranges.iter().find(|r| r.range.contains(&areq.acct_number)) else {
        return Err(refused(Rejection::element(
            ErrorCode::TransactionDataNotValid,
            "acctNumber",
            "the card number is in no card range of this Directory Server",
        )));
    };
    if areq.message_version < range.acs_start_version
        || areq.message_version > range.acs_end_version
    {
        return Err(refused(Rejection::element(
            ErrorCode::MessageVersionNotSupported,
            "messageVersion",
            "the ACS of this card range does not support this messageVersion",
        )));
    }
    Ok(range)
}

/// The AReq as the DS relays it to the ACS: with its `dsTransID`, `dsReferenceNumber` and the
/// `dsURL` the RReq goes to. Whatever the 3DS Server put in those is replaced.
pub fn relayed(areq: &AReq, profile: &DsProfile, ds_trans_id: &str) -> AReq {
    let mut out = areq.clone();
    out.ds_trans_id = Some(ds_trans_id.to_owned());
    out.other.0.insert(
        "dsReferenceNumber".into(),
        profile.reference_number.clone().into(),
    );
    out.other
        .0
        .insert("dsURL".into(), profile.results_url.clone().into());
    out
}

/// The PRes answering `preq` with the whole table (no `serialNum`: it replaces every range the
/// 3DS Server holds). 2.3.1 lists the versions as arrays, earlier versions as start and end.
pub fn pres(preq: &PReq, profile: &DsProfile, ranges: &[DsRange], ds_trans_id: &str) -> PRes {
    let v231 = preq.message_version >= MessageVersion::V2_3_1;
    let versions = |start: MessageVersion, end: MessageVersion| -> Vec<MessageVersion> {
        MessageVersion::ALL
            .into_iter()
            .filter(|v| *v >= start && *v <= end)
            .collect()
    };
    let entries = ranges
        .iter()
        .map(|r| {
            let mut other = Map::new();
            if v231 {
                let acs: Vec<Value> = versions(r.acs_start_version, r.acs_end_version)
                    .into_iter()
                    .map(|v| {
                        let mut entry = json!({ "version": v.as_str() });
                        if let (Some(url), Some(o)) =
                            (&r.three_ds_method_url, entry.as_object_mut())
                        {
                            o.insert("threeDSMethodURL".into(), url.clone().into());
                        }
                        entry
                    })
                    .collect();
                let ds: Vec<Value> = versions(profile.start_version, profile.end_version)
                    .into_iter()
                    .map(|v| v.as_str().into())
                    .collect();
                other.insert("acsProtocolVersions".into(), acs.into());
                other.insert("dsProtocolVersions".into(), ds.into());
            } else {
                for (name, version) in [
                    ("acsStartProtocolVersion", r.acs_start_version),
                    ("acsEndProtocolVersion", r.acs_end_version),
                    ("dsStartProtocolVersion", profile.start_version),
                    ("dsEndProtocolVersion", profile.end_version),
                ] {
                    other.insert(name.into(), version.as_str().into());
                }
            }
            crate::message::CardRange {
                start_range: r.start.clone(),
                end_range: r.end.clone(),
                action_ind: Some("A".into()),
                three_ds_method_url: r.three_ds_method_url.clone().filter(|_| !v231),
                other: Elements(other),
            }
        })
        .collect();
    let mut other = Map::new();
    if !v231 {
        other.insert(
            "dsStartProtocolVersion".into(),
            profile.start_version.as_str().into(),
        );
        other.insert(
            "dsEndProtocolVersion".into(),
            profile.end_version.as_str().into(),
        );
    }
    PRes {
        message_type: PResType,
        message_version: preq.message_version,
        three_ds_server_trans_id: preq.three_ds_server_trans_id.clone(),
        ds_trans_id: ds_trans_id.to_owned(),
        serial_num: None,
        card_range_data: Some(entries),
        other: Elements(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::acs::Scheme;
    use crate::{Message, Versions, check};

    const DS_TRANS_ID: &str = "6a00d179-bcdd-4eb4-a7e9-40eb30023b05";

    fn profile() -> DsProfile {
        DsProfile {
            reference_number: "DS-SIM-1".into(),
            results_url: "https://ds.test/ds/rreq".into(),
            start_version: MessageVersion::V2_1_0,
            end_version: MessageVersion::V2_3_1,
        }
    }

    fn ranges() -> Vec<DsRange> {
        vec![DsRange {
            range: CardRange::new("4012000000006000", "4012000000006999", Scheme::Visa).unwrap(),
            start: "4012000000006000".into(),
            end: "4012000000006999".into(),
            acs_url: "https://acs.test/3ds/acs/areq".into(),
            acs_start_version: MessageVersion::V2_2_0,
            acs_end_version: MessageVersion::V2_3_1,
            three_ds_method_url: Some("https://acs.test/3ds/method".into()),
        }]
    }

    fn preq(version: &str) -> PReq {
        let text = format!(
            r#"{{"messageType":"PReq","messageVersion":"{version}","threeDSServerTransID":"8a880dc0-d2d2-4067-bcb1-b08d1690b26e","threeDSServerRefNumber":"3DS_LOA_SER_PPFU_020100_00008","threeDSServerOperatorID":"1jpeeLAWgGFgS1Ri9tX9"}}"#
        );
        match check(text.as_bytes(), Versions::ALL) {
            Ok(Message::PReq(p)) => p,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_pres_is_a_valid_pres_in_each_version() {
        for version in ["2.1.0", "2.2.0", "2.3.1"] {
            let pres = pres(&preq(version), &profile(), &ranges(), DS_TRANS_ID);
            let bytes = serde_json::to_vec(&pres).unwrap();
            match check(&bytes, Versions::ALL) {
                Ok(Message::PRes(read)) => assert_eq!(read, pres, "{version}"),
                other => panic!("{version}: {other:?}"),
            }
            let json: Value = serde_json::from_slice(&bytes).unwrap();
            let entry = &json["cardRangeData"][0];
            assert_eq!(entry["startRange"], "4012000000006000");
            if version == "2.3.1" {
                assert_eq!(
                    entry["acsProtocolVersions"],
                    json!([
                        {"version": "2.2.0", "threeDSMethodURL": "https://acs.test/3ds/method"},
                        {"version": "2.3.1", "threeDSMethodURL": "https://acs.test/3ds/method"}
                    ])
                );
                assert_eq!(
                    entry["dsProtocolVersions"],
                    json!(["2.1.0", "2.2.0", "2.3.1"])
                );
            } else {
                assert_eq!(entry["acsStartProtocolVersion"], "2.2.0");
                assert_eq!(json["dsEndProtocolVersion"], "2.3.1");
            }
        }
    }

    #[test]
    fn an_areq_is_routed_by_its_card_and_refused_outside_the_table_or_the_acs_versions() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/visa/3DSS-220-101/areq.json"
        );
        let mut v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        v["acctNumber"] = json!("4012000000006013");
        let Ok(Message::AReq(areq)) = check(v.to_string().as_bytes(), Versions::ALL) else {
            panic!()
        };
        let table = ranges();
        assert_eq!(route(&table, &areq).unwrap(), &table[0]);
        let out = relayed(&areq, &profile(), DS_TRANS_ID);
        assert_eq!(out.ds_trans_id.as_deref(), Some(DS_TRANS_ID));
        assert_eq!(out.other.0["dsURL"], "https://ds.test/ds/rreq");
        assert_eq!(out.other.0["dsReferenceNumber"], "DS-SIM-1");
        assert!(check(&serde_json::to_vec(&out).unwrap(), Versions::ALL).is_ok());

        v["acctNumber"] = json!("5555555555554444");
        let Ok(Message::AReq(elsewhere)) = check(v.to_string().as_bytes(), Versions::ALL) else {
            panic!()
        };
        let refused = route(&table, &elsewhere).unwrap_err();
        assert_eq!(refused.rejection.code, ErrorCode::TransactionDataNotValid);
        assert!(!refused.rejection.error_detail().contains("5555"));

        let mut old = table[0].clone();
        old.acs_start_version = MessageVersion::V2_3_1;
        assert_eq!(
            route(&[old], &areq).unwrap_err().rejection.code,
            ErrorCode::MessageVersionNotSupported
        );
    }
}
