//! Reading test cases: visitors that accept the compact forms (a scalar for "equals", `true` for
//! "dead-lettered", the `!tick` tag for a tick) and name the offending key in every error.

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, VariantAccess, Visitor};

use super::*;

/// For `Option` fields whose `null` must not read as "not given".
pub(super) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

// The deserializers below raise their errors inside a visitor, where the YAML deserializer still
// knows the position, so config errors point at the offending line.

impl<'de> Deserialize<'de> for TestInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(InputVisitor)
    }
}

struct InputVisitor;

impl<'de> Visitor<'de> for InputVisitor {
    type Value = TestInput;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "a string (the raw record; quote it if it looks like a number), a mapping (sent as JSON) or `!tick <duration>`",
        )
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<TestInput, E> {
        Ok(TestInput::Record(TestRecord { raw: v.to_string() }))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TestInput, A::Error> {
        // Through YAML's own value, which keeps the keys in the order written.
        let value = serde_yaml_ng::Value::deserialize(MapAccessDeserializer::new(map))?;
        let raw = serde_json::to_string(&value)
            .map_err(|e| de::Error::custom(format!("this mapping cannot be sent as JSON ({e})")))?;
        Ok(TestInput::Record(TestRecord { raw }))
    }

    /// A tagged value: YAML tags reach a visitor as an enum whose variant is the tag's name.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<TestInput, A::Error> {
        let (tag, value) = data.variant::<String>()?;
        if tag != "tick" {
            return Err(de::Error::custom(format!(
                "unknown tag `!{tag}`; the only tag an entry takes is `!tick <duration>` (quote a record that starts with `!`)"
            )));
        }
        value.newtype_variant_seed(TickSeed).map(TestInput::Tick)
    }
}

/// The duration after `!tick`.
struct TickSeed;

impl<'de> DeserializeSeed<'de> for TickSeed {
    type Value = std::time::Duration;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for TickSeed {
    type Value = std::time::Duration;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("how far a tick moves the clock, e.g. `!tick 10m` (`!tick 0s` for none)")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        humantime::parse_duration(v).map_err(|e| E::custom(format!("invalid duration `{v}` after `!tick`: {e}")))
    }
}

impl<'de> Deserialize<'de> for Expectation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(ExpectationVisitor)
    }
}

struct ExpectationVisitor;

const FATES: &str = "`output`, `outputs`, `dropped: true`, `dead_lettered`";

impl<'de> Visitor<'de> for ExpectationVisitor {
    type Value = Expectation;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "an expectation: `input`, one of `output`, `outputs`, `dropped`, `dead_lettered`, and/or `signals`, `no_signals`",
        )
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Expectation, A::Error> {
        let keys = ExpectationKeys::deserialize(MapAccessDeserializer::new(map))?;
        let input = keys.input;
        let mut fates = Vec::new();
        fates.extend(keys.output.map(Fate::Output));
        fates.extend(keys.outputs.map(Fate::Outputs));
        match keys.dropped {
            Some(true) => fates.push(Fate::Dropped),
            Some(false) => return Err(de::Error::custom(not_false("dropped"))),
            None => {}
        }
        fates.extend(keys.dead_lettered.map(|d| Fate::DeadLettered(d.0)));
        let signals = SignalExpectation {
            listed: keys.signals.map(|s| s.0).unwrap_or_default(),
            none_of: keys.no_signals.map(|n| n.0).unwrap_or_default(),
        };
        if let Some(both) = signals.listed.iter().find(|c| signals.none_of.contains(&c.kind)) {
            let kind = signals::kind_name(both.kind);
            return Err(de::Error::custom(format!(
                "entry {input} expects a `{kind}` signal in `signals` and none in `no_signals`; keep one"
            )));
        }
        let fate = fates.pop();
        if !fates.is_empty() {
            return Err(de::Error::custom(format!(
                "record {input} is expected to become two things; keep one of {}",
                "`output`, `outputs`, `dropped`, `dead_lettered`"
            )));
        }
        if fate.is_none() && signals.is_empty() {
            return Err(de::Error::custom(format!(
                "say what becomes of record {input} with one of {FATES}, or check its signals with `signals` or `no_signals`"
            )));
        }
        Ok(Expectation { input, fate, signals })
    }
}

fn not_false(key: &str) -> String {
    format!("`{key}: false` expects nothing; say what the record becomes instead ({FATES})")
}

/// `dead_lettered: true` or `dead_lettered: {stage, reason}`.
pub(super) struct DeadLetterSpec(DeadLetterCheck);

impl<'de> Deserialize<'de> for DeadLetterSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DeadLetterVisitor)
    }
}

struct DeadLetterVisitor;

impl<'de> Visitor<'de> for DeadLetterVisitor {
    type Value = DeadLetterSpec;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("`true` or a mapping with `stage` and/or `reason`")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<DeadLetterSpec, E> {
        if v { Ok(DeadLetterSpec(DeadLetterCheck::default())) } else { Err(E::custom(not_false("dead_lettered"))) }
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<DeadLetterSpec, A::Error> {
        DeadLetterCheck::deserialize(MapAccessDeserializer::new(map)).map(DeadLetterSpec)
    }
}

impl<'de> Deserialize<'de> for FieldChecks {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(FieldChecksVisitor)
    }
}

struct FieldChecksVisitor;

impl<'de> Visitor<'de> for FieldChecksVisitor {
    type Value = FieldChecks;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a mapping of field paths to values or checks, e.g. `{level: ERROR, message: {matches: disk}}`")
    }

    /// `output:` with nothing after it: one event, fields unchecked.
    fn visit_unit<E: de::Error>(self) -> Result<FieldChecks, E> {
        Ok(FieldChecks::default())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<FieldChecks, A::Error> {
        let mut checks: Vec<FieldCheck> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let path = FieldPath::parse(&key);
            // Reported while reading the value, so the error carries the key's path and line.
            let problem = match &path {
                Err(e) => Some(e.clone()),
                Ok(p) if checks.iter().any(|c| c.path == *p) => Some(format!("`{key}` is checked twice")),
                Ok(_) => None,
            };
            let check = map.next_value_seed(CheckVisitor { problem })?;
            if let Ok(path) = path {
                checks.push(FieldCheck { path, check });
            }
        }
        Ok(FieldChecks(checks))
    }
}

impl<'de> Deserialize<'de> for Check {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckVisitor { problem: None })
    }
}

/// Reads a check; `problem` is an error about its key, raised in place of reading the value.
pub(super) struct CheckVisitor {
    problem: Option<String>,
}

impl CheckVisitor {
    /// A check whose key is wrong when `problem` is given: the error is raised at the value.
    pub(super) fn with_problem(problem: Option<String>) -> CheckVisitor {
        CheckVisitor { problem }
    }

    fn equals<E: de::Error>(self, value: serde_json::Value) -> Result<Check, E> {
        self.key_ok()?;
        Ok(Check::Equals(value))
    }

    fn key_ok<E: de::Error>(&self) -> Result<(), E> {
        match &self.problem {
            Some(problem) => Err(E::custom(problem)),
            None => Ok(()),
        }
    }
}

const NULL: &str = "null is not a value to compare; write `{absent: true}` for a field that must be absent";

impl<'de> DeserializeSeed<'de> for CheckVisitor {
    type Value = Check;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Check, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for CheckVisitor {
    type Value = Check;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value, `{equals: X}`, `{matches: REGEX}` or `{absent: true}`")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Check, E> {
        self.equals(v.into())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Check, E> {
        self.equals(v.into())
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Check, E> {
        self.equals(v.into())
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Check, E> {
        let number = serde_json::Number::from_f64(v).ok_or_else(|| E::custom("not a finite number"))?;
        self.equals(number.into())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Check, E> {
        self.equals(v.into())
    }

    fn visit_unit<E: de::Error>(self) -> Result<Check, E> {
        self.key_ok()?;
        Err(E::custom(NULL))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Check, A::Error> {
        self.key_ok()?;
        let keys = CheckKeys::deserialize(MapAccessDeserializer::new(map))?;
        match (keys.equals, keys.matches, keys.absent) {
            (Some(serde_json::Value::Null), None, None) => Err(de::Error::custom(NULL)),
            (Some(value), None, None) => Ok(Check::Equals(value)),
            (None, Some(pattern), None) => Ok(Check::Matches(pattern)),
            (None, None, Some(absent)) => Ok(Check::Absent(absent)),
            _ => Err(de::Error::custom(
                "a check has exactly one of `equals`, `matches` and `absent` (to compare with a mapping, use `equals`)",
            )),
        }
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(PatternVisitor)
    }
}

struct PatternVisitor;

impl<'de> Visitor<'de> for PatternVisitor {
    type Value = Pattern;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a regular expression")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Pattern, E> {
        regex::Regex::new(v).map(Pattern).map_err(|e| {
            // The crate's message spans lines (the pattern, a caret, the error); keep the error.
            let text = e.to_string();
            let why = text.lines().rev().find_map(|l| l.strip_prefix("error: ")).unwrap_or(&text).to_string();
            E::custom(format!("invalid regular expression `{v}` ({why})"))
        })
    }
}
