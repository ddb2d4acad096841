//! The element rules of `rules/elements.tsv`: which elements each message and version requires,
//! and the format each must have. The table is data so that an auditor can read what is checked
//! without reading code; it is parsed once, and a unit test proves every row parses.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::{ErrorCode, MessageType, MessageVersion, Rejection};

const TABLE: &str = include_str!("../rules/elements.tsv");

/// The JSON type an element must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JsonType {
    String,
    Bool,
    Object,
    Array,
}

impl JsonType {
    pub(crate) fn matches(self, value: &Value) -> bool {
        matches!(
            (self, value),
            (Self::String, Value::String(_))
                | (Self::Bool, Value::Bool(_))
                | (Self::Object, Value::Object(_))
                | (Self::Array, Value::Array(_))
        )
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::String => "a string",
            Self::Bool => "a boolean",
            Self::Object => "an object",
            Self::Array => "an array",
        }
    }
}

/// The context that decides whether a conditional element is required: the message's own
/// `deviceChannel` and `messageCategory`.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Context<'a> {
    pub device_channel: Option<&'a str>,
    pub message_category: Option<&'a str>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Inclusion {
    Required,
    /// Required when one of these conjunctions of (`dc` | `mc`, value) holds for the message.
    RequiredWhen(Vec<Vec<(bool, String)>>),
    /// Conditional on data outside the message, or optional: checked only when present.
    Optional,
}

impl Inclusion {
    pub(crate) fn required(&self, ctx: Context<'_>) -> bool {
        match self {
            Self::Required => true,
            Self::Optional => false,
            Self::RequiredWhen(any) => any.iter().any(|all| {
                all.iter().all(|(is_channel, value)| {
                    let actual = if *is_channel {
                        ctx.device_channel
                    } else {
                        ctx.message_category
                    };
                    actual == Some(value.as_str())
                })
            }),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Uuid,
    Url,
    UrlHttps,
    Ip,
    Email,
    /// ISO 3166-1 numeric, ISO 4217 numeric: three digits.
    IsoNumeric,
    Yymm,
    Yyyymmdd,
    Yyyymmddhhmmss,
}

impl Format {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "uuid" => Self::Uuid,
            "url" => Self::Url,
            "urlHttps" => Self::UrlHttps,
            "ip" => Self::Ip,
            "email" => Self::Email,
            "countryCode" | "currency" => Self::IsoNumeric,
            "yymm" => Self::Yymm,
            "yyyymmdd" => Self::Yyyymmdd,
            "yyyymmddhhmmss" => Self::Yyyymmddhhmmss,
            _ => return None,
        })
    }

    pub(crate) fn holds(self, s: &str) -> bool {
        let digits = |n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
        let num = |range: std::ops::Range<usize>| s[range].parse::<u32>().unwrap_or(u32::MAX);
        match self {
            Self::Uuid => is_uuid(s),
            Self::Url => url_scheme(s, &["http", "https"]),
            Self::UrlHttps => url_scheme(s, &["https"]),
            Self::Ip => s.parse::<IpAddr>().is_ok(),
            Self::Email => email(s),
            Self::IsoNumeric => digits(3),
            Self::Yymm => digits(4) && (1..=12).contains(&num(2..4)),
            Self::Yyyymmdd => digits(8) && date(num(4..6), num(6..8)),
            Self::Yyyymmddhhmmss => {
                digits(14)
                    && date(num(4..6), num(6..8))
                    && num(8..10) < 24
                    && num(10..12) < 60
                    && num(12..14) < 60
            }
        }
    }
}

/// The specification's UUID: the canonical 36-character text form.
pub(crate) fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

fn date(month: u32, day: u32) -> bool {
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// A fully qualified URL of one of `schemes`, with a host, and no spaces or control characters.
fn url_scheme(s: &str, schemes: &[&str]) -> bool {
    let Some((scheme, rest)) = s.split_once("://") else {
        return false;
    };
    schemes.iter().any(|x| scheme.eq_ignore_ascii_case(x))
        && rest
            .split(['/', '?', '#'])
            .next()
            .is_some_and(|host| !host.is_empty())
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// The shape of an address: one `@`, a local part and a dotted domain, no spaces.
fn email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[derive(Clone, Debug)]
pub(crate) enum Check {
    Len(usize),
    Min(usize),
    Max(usize),
    Items(usize),
    Format(Format),
    Pattern(Regex),
    OneOf(Vec<String>),
}

impl Check {
    /// `None` when the value passes, else what is wrong, in words that never repeat the value.
    /// On an array, `items=` bounds its length and every other check applies to each entry (2.3.1
    /// turned some single values, such as `threeDSRequestorChallengeInd`, into arrays of them).
    pub(crate) fn fault(&self, value: &Value) -> Option<String> {
        match (self, value) {
            (Self::Items(_), _) | (_, Value::Bool(_) | Value::Object(_)) => self.fault_one(value),
            (_, Value::Array(items)) => items.iter().enumerate().find_map(|(i, item)| {
                let fault = if item.is_string() {
                    self.fault_one(item)
                } else {
                    Some("must be a string".to_owned())
                };
                fault.map(|f| format!("entry {i} {f}"))
            }),
            _ => self.fault_one(value),
        }
    }

    fn fault_one(&self, value: &Value) -> Option<String> {
        let chars = value.as_str().map(|s| s.chars().count());
        match (self, value) {
            (Self::Len(n), _) if chars.is_some_and(|c| c != *n) => {
                Some(format!("must be {n} characters"))
            }
            (Self::Min(n), _) if chars.is_some_and(|c| c < *n) => {
                Some(format!("must be at least {n} characters"))
            }
            (Self::Max(n), _) if chars.is_some_and(|c| c > *n) => {
                Some(format!("must be at most {n} characters"))
            }
            (Self::Items(n), Value::Array(items)) if items.len() > *n => {
                Some(format!("must have at most {n} entries"))
            }
            (Self::Format(f), Value::String(s)) if !f.holds(s) => {
                Some(format!("is not a valid {f:?} value"))
            }
            (Self::Pattern(re), Value::String(s)) if !re.is_match(s) => {
                Some(format!("does not match {}", re.as_str()))
            }
            (Self::OneOf(values), Value::String(s)) if !values.iter().any(|v| v == s) => {
                Some(format!("must be one of {}", values.join(", ")))
            }
            _ => None,
        }
    }
}

/// One element rule of one message type and version.
#[derive(Clone, Debug)]
pub(crate) struct Rule {
    /// For `parent[].child`, the parent array's name; `None` for a top-level element.
    pub parent: Option<String>,
    pub name: String,
    pub json: JsonType,
    pub inclusion: Inclusion,
    pub checks: Vec<Check>,
}

pub(crate) type RuleBook = HashMap<(MessageType, MessageVersion), Vec<Rule>>;

static RULES: LazyLock<Result<RuleBook, String>> = LazyLock::new(|| parse_table(TABLE));

/// The rules of a message type and version, top-level elements before nested ones. The table is
/// compiled in and a unit test proves it parses; were it broken, every message would answer
/// Erro 404 instead of the process panicking.
pub(crate) fn rules(
    message: MessageType,
    version: MessageVersion,
) -> Result<&'static [Rule], Rejection> {
    match &*RULES {
        Ok(book) => Ok(book
            .get(&(message, version))
            .map(Vec::as_slice)
            .unwrap_or(&[])),
        Err(e) => Err(Rejection::new(
            ErrorCode::PermanentSystemFailure,
            format!("rules/elements.tsv: {e}"),
        )),
    }
}

pub(crate) fn parse_table(table: &str) -> Result<RuleBook, String> {
    let mut book: RuleBook = HashMap::new();
    for (n, line) in table
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.starts_with('#') && !l.trim().is_empty())
    {
        let at = |e: String| format!("line {}: {e}", n + 1);
        let cols: Vec<&str> = line.split('\t').collect();
        let [message, version, element, json, inclusion, checks] = cols[..] else {
            return Err(at(format!("{} columns, expected 6", cols.len())));
        };
        let message: MessageType = message
            .parse()
            .map_err(|()| at(format!("message {message}")))?;
        let version: MessageVersion = version
            .parse()
            .map_err(|()| at(format!("version {version}")))?;
        let (parent, name) = match element.split_once("[].") {
            Some((p, c)) => (Some(p.to_owned()), c.to_owned()),
            None => (None, element.to_owned()),
        };
        let json = match json {
            "string" => JsonType::String,
            "bool" => JsonType::Bool,
            "object" => JsonType::Object,
            "array" => JsonType::Array,
            other => return Err(at(format!("type {other}"))),
        };
        let inclusion = match inclusion {
            "R" => Inclusion::Required,
            "O" | "C" => Inclusion::Optional,
            when => Inclusion::RequiredWhen(
                when.strip_prefix("R?")
                    .ok_or_else(|| at(format!("inclusion {when}")))?
                    .split('|')
                    .map(|all| {
                        all.split('&')
                            .map(|cond| match cond.split_once('=') {
                                Some(("dc", v)) => Ok((true, v.to_owned())),
                                Some(("mc", v)) => Ok((false, v.to_owned())),
                                _ => Err(at(format!("condition {cond}"))),
                            })
                            .collect::<Result<Vec<_>, _>>()
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        let checks = if checks == "-" {
            Vec::new()
        } else {
            checks
                .split(' ')
                .map(|c| parse_check(c).map_err(&at))
                .collect::<Result<Vec<_>, _>>()?
        };
        book.entry((message, version)).or_default().push(Rule {
            parent,
            name,
            json,
            inclusion,
            checks,
        });
    }
    for rules in book.values_mut() {
        rules.sort_by_key(|r| r.parent.is_some());
    }
    Ok(book)
}

fn parse_check(c: &str) -> Result<Check, String> {
    let (key, value) = c.split_once('=').ok_or_else(|| format!("check {c}"))?;
    let number = || value.parse::<usize>().map_err(|_| format!("check {c}"));
    Ok(match key {
        "len" => Check::Len(number()?),
        "min" => Check::Min(number()?),
        "max" => Check::Max(number()?),
        "items" => Check::Items(number()?),
        "fmt" => Check::Format(Format::parse(value).ok_or_else(|| format!("format {value}"))?),
        "re" => Check::Pattern(Regex::new(value).map_err(|e| format!("pattern {value}: {e}"))?),
        "enum" => Check::OneOf(value.split(',').map(str::to_owned).collect()),
        _ => return Err(format!("check {c}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_covers_every_message_and_version() {
        let book = parse_table(TABLE).unwrap();
        for message in MessageType::ALL {
            for version in MessageVersion::ALL {
                let rules = &book[&(message, version)];
                for required in ["messageType", "messageVersion"] {
                    assert!(
                        rules
                            .iter()
                            .any(|r| r.name == required && r.inclusion == Inclusion::Required),
                        "{message} {version} {required}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_bad_row_names_its_line() {
        assert!(
            parse_table("AReq\t2.2.0\tx\tstring\tR\tmax=x\n")
                .unwrap_err()
                .starts_with("line 1")
        );
        assert!(parse_table("AReq\t2.2.0\tx\tstring\tR\n").is_err());
        assert!(parse_table("AReq\t9.9.9\tx\tstring\tR\t-\n").is_err());
        assert!(parse_table("AReq\t2.2.0\tx\tstring\tR?xx=1\t-\n").is_err());
    }

    #[test]
    fn conditions_follow_the_message_context() {
        let when = Inclusion::RequiredWhen(vec![
            vec![(true, "02".into())],
            vec![(true, "01".into()), (false, "01".into())],
        ]);
        let ctx = |dc, mc| Context {
            device_channel: dc,
            message_category: mc,
        };
        assert!(when.required(ctx(Some("02"), None)));
        assert!(when.required(ctx(Some("01"), Some("01"))));
        assert!(!when.required(ctx(Some("01"), Some("02"))));
        assert!(!when.required(ctx(None, None)));
    }

    #[test]
    fn formats() {
        assert!(Format::Uuid.holds("8a880dc0-d2d2-4067-bcb1-b08d1690b26e"));
        assert!(!Format::Uuid.holds("8a880dc0d2d24067bcb1b08d1690b26e"));
        assert!(Format::Url.holds("https://merchant.example/3ds/notify?x=1"));
        assert!(!Format::Url.holds("javascript:alert(1)"));
        assert!(!Format::Url.holds("https:///path"));
        assert!(!Format::UrlHttps.holds("http://merchant.example/"));
        assert!(
            Format::Ip.holds("192.0.2.1")
                && Format::Ip.holds("2001:db8::1")
                && !Format::Ip.holds("300.1.1.1")
        );
        assert!(Format::Yymm.holds("2712") && !Format::Yymm.holds("2713"));
        assert!(
            Format::Yyyymmddhhmmss.holds("20261206235959")
                && !Format::Yyyymmddhhmmss.holds("20261206245959")
        );
        assert!(Format::Yyyymmdd.holds("20261231") && !Format::Yyyymmdd.holds("20261301"));
        assert!(Format::IsoNumeric.holds("392") && !Format::IsoNumeric.holds("JPY"));
        assert!(Format::Email.holds("a@b.example") && !Format::Email.holds("a b@c.example"));
    }
}
