//! Cases run end to end against the built-in guests: the clock drives `alert`'s windows, ticks
//! fire its absence rule, and a wrong expectation fails with the signals in the report.

use std::path::Path;

use super::*;
use crate::event::now_ns;

/// `normalize` then `alert` with a threshold rule (more than 2 payment errors in 5m) and an
/// absence rule (payments silent for more than 10m), followed by `tests`.
fn pipeline(tests: &str) -> Pipeline {
    let text = format!(
        "{}{}{}{}{}{tests}",
        "inputs: [{http: {}}]\noutputs: [{libsql: {}}]\nstages:\n  - {name: normalize, guest: normalize}\n",
        "  - name: alert\n    guest: alert\n    config:\n      rules:\n",
        "        - {name: payment-errors, kind: threshold, filter: {level: ERROR, source: payments}, window: 5m,\n",
        "           above: 2, group_by: source, severity: critical, dedup: 10m}\n",
        "        - {name: payments-silent, kind: absence, filter: {source: payments}, for: 10m, severity: error}\ntests:\n",
    );
    Pipeline::parse(Path::new("alert.yaml"), &text).unwrap_or_else(|e| panic!("{e}"))
}

const PAYMENTS: &str = concat!(
    "      - {message: payment 1 declined, level: error, source: payments}\n",
    "      - {message: payment 2 declined, level: error, source: payments}\n",
    "      - {message: payment 3 declined, level: error, source: payments}\n",
);

#[test]
fn the_clock_and_ticks_drive_alert_rules_deterministically() {
    let runner = Runner::new(None).unwrap_or_else(|e| panic!("{e}"));
    let before = now_ns();
    let report = runner
        .run_pipeline(&pipeline(&format!(
            concat!(
                "  - name: right\n",
                "    clock: {{start: 2026-12-01T12:00:00Z, step: 10s}}\n",
                "    input:\n{}",
                "      - !tick 9m\n",
                "      - !tick 2m\n",
                "    expect:\n",
                "      - {{input: 1, output: {{timestamp: 2026-12-01T12:00:10.000Z}}, no_signals: alert}}\n",
                "      - input: 2\n",
                "        signals:\n",
                "          - {{kind: alert, stage: alert, body.rule: payment-errors, body.key: payments,\n",
                "             body.value: 3, body.fired_ns: 1796126420000000000}}\n",
                "      - {{input: 3, no_signals: true}}\n",
                "      - {{input: 4, signals: [{{kind: alert, body.rule: payments-silent}}]}}\n",
                "  - name: wrong\n",
                "    clock: {{start: 2026-12-01T12:00:00Z}}\n",
                "    input:\n{}",
                "      - !tick 1s\n",
                "    expect:\n",
                "      - {{input: 2, signals: [{{kind: alert, body.severity: warning}}]}}\n",
                "      - {{input: 3, signals: [{{kind: alert}}]}}\n",
            ),
            PAYMENTS, PAYMENTS
        )))
        .unwrap_or_else(|e| panic!("{e}"));
    let text = report.to_string();
    assert!(report.cases[0].passed(), "{text}");
    let wrong = &report.cases[1];
    let failed: Vec<(usize, Vec<Option<&str>>)> =
        wrong.failures.iter().map(|f| (f.input, f.mismatches.iter().map(|m| m.path.as_deref()).collect())).collect();
    assert_eq!(
        failed,
        [(2, vec![Some("signals[0]"), Some("signals[0].body.severity")]), (3, vec![Some("signals[0]")])],
        "{text}"
    );
    assert!(text.contains("    signals[0].body.severity: expected \"warning\", got \"critical\"\n"), "{text}");
    assert!(text.contains("      [0] alert from stage `alert`: {\"event_ids\":["), "{text}");
    assert!(text.contains("  input 3 (tick):\n    signals[0]: expected an `alert` signal"), "{text}");
    assert!(runner.wasm.services().clock.now_ns() >= before, "the wall clock is back after the cases");
}

#[test]
fn without_a_clock_records_are_received_at_the_wall_clock() {
    let runner = Runner::new(None).unwrap_or_else(|e| panic!("{e}"));
    let before = now_ns();
    // A timestamp check that cannot hold shows the time the record was stamped with.
    let report = runner
        .run_pipeline(&pipeline(&format!(
            "  - name: wall\n    input:\n{PAYMENTS}    expect:\n      - {{input: 0, output: {{timestamp: x}}}}\n"
        )))
        .unwrap_or_else(|e| panic!("{e}"));
    let got = &report.cases[0].failures[0].mismatches[0].got;
    let stamped = chrono::DateTime::parse_from_rfc3339(got.trim_matches('"')).unwrap_or_else(|e| panic!("{got}: {e}"));
    let stamped = stamped.timestamp_nanos_opt().unwrap_or_default();
    assert!(stamped >= before - 1_000_000 && stamped <= now_ns(), "{got} is not the wall clock");
}
