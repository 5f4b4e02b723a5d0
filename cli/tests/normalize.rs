//! `tributary normalize` end to end on the sample Kinesis and SQS events.

mod common;

use common::*;

use serde_json::Value;

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .expect("output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// `tributary normalize EVENT`, which must succeed, with its events and dead letters into `events.jsonl` and
/// `dead.jsonl` in `dir`: the run and the two files.
fn normalize_into(
    dir: &std::path::Path,
    event: &std::path::Path,
) -> (std::process::Output, std::path::PathBuf, std::path::PathBuf) {
    let (out, dead) = (dir.join("events.jsonl"), dir.join("dead.jsonl"));
    let run = tributary_ok(&[
        "normalize",
        s(event),
        "--out",
        s(&out),
        "--dead-letter",
        s(&dead),
    ]);
    (run, out, dead)
}

#[test]
fn normalizes_the_sample_kinesis_batch() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (run, out, dead) = normalize_into(dir.path(), &root().join("events/kinesis-batch.json"));
    let summary: Value = serde_json::from_slice(&run.stderr).expect("summary on stderr");
    assert_eq!(
        summary,
        serde_json::json!({"records_in": 7, "normalized": 4, "duplicates": 1, "dead_lettered": 2, "key_collisions": 0})
    );
    let events = lines(&out);
    assert_eq!(events.len(), 4);
    assert_eq!(events[0]["customer_id"], "cust-42");
    assert_eq!(events[0]["shipping_address"]["zip_code"], "10001");
    assert_eq!(events[1]["event_type"], "page_view");
    assert_eq!(events[1]["event_time"], "2026-11-21T10:01:00.000Z");
    assert_eq!(events[2]["event_time"], "2026-11-21T10:02:00.500Z");
    assert_eq!(events[3]["event_time_source"], "arrival");
    let letters = lines(&dead);
    assert_eq!(letters.len(), 2);
    assert!(
        letters[0]["record"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("not JSON"))
    );
    assert!(
        letters[0]["key"]
            .as_str()
            .is_some_and(|k| k.starts_with("dead-letter/kinesis/2026-11-21/shardId-000000000000-"))
    );
}

#[test]
fn normalizes_an_sqs_batch_to_stdout_and_to_a_file() {
    let event = root().join("events/sqs-batch.json");
    let run = tributary(&["normalize", s(&event)]);
    assert!(run.status.success());
    let events: Vec<Value> = String::from_utf8_lossy(&run.stdout)
        .lines()
        .map(|l| without_time(serde_json::from_str(l).expect("json")))
        .collect();
    assert_eq!(events.len(), 3);
    let summary: Value = serde_json::from_slice(&run.stderr).expect("summary");
    assert_eq!(summary["dead_lettered"], 1);
    // Into files, the event file is read a block at a time: the same events.
    let dir = tempfile::tempdir().expect("temp dir");
    let (run, out, dead) = normalize_into(dir.path(), &event);
    let into_file: Vec<Value> = lines(&out).into_iter().map(without_time).collect();
    assert!(
        into_file == events,
        "a file and stdout gave different events"
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&run.stderr).expect("summary"),
        summary
    );
    assert_eq!(lines(&dead).len(), 1);
}

#[test]
fn an_unreadable_event_file_exits_1() {
    let run = tributary(&["normalize", "/nonexistent/event.json"]);
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("cannot read"));
}

#[test]
fn an_event_file_that_is_not_utf8_exits_1_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (event, out) = (
        dir.path().join("event.json"),
        dir.path().join("events.jsonl"),
    );
    std::fs::write(&event, b"{\"Records\": [\"\xff\"]}").expect("event");
    let run = tributary(&["normalize", s(&event), "--out", s(&out)]);
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("is not UTF-8"));
    assert!(!out.exists());
}

#[test]
fn colliding_keys_and_exact_numbers_come_out_unchanged() {
    use base64::Engine;
    let payloads = [
        r#"{"id": "c1", "userId": "camel", "user_id": "snake", "UserID": "upper", "addr": {"countryCode": "DE", "country_code": "FR"}}"#,
        r#"{"id": "n1", "account": 123456789012345678901234567890, "price": 19.990, "x": 0.30000000000000004441}"#,
    ];
    let records: Vec<Value> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| {
            serde_json::json!({"eventID": format!("shardId-000000000000:{i}"), "eventSource": "aws:kinesis",
                "kinesis": {"sequenceNumber": format!("{i}"), "partitionKey": "k",
                    "approximateArrivalTimestamp": 1_795_255_200.0,
                    "data": base64::engine::general_purpose::STANDARD.encode(p)}})
        })
        .collect();
    let (_dir, event) = event_file(records);
    let run = tributary(&["normalize", s(&event)]);
    let summary: Value = serde_json::from_slice(&run.stderr).expect("summary");
    assert_eq!(
        (&summary["normalized"], &summary["key_collisions"]),
        (&2.into(), &2.into())
    );
    let stdout = String::from_utf8(run.stdout).expect("utf-8");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines[0].starts_with(
            r#"{"id":"c1","userId":"camel","user_id":"snake","UserID":"upper","addr":{"countryCode":"DE","country_code":"FR"}"#
        ),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].starts_with(
            r#"{"id":"n1","account":123456789012345678901234567890,"price":19.990,"x":0.30000000000000004441,"#
        ),
        "{}",
        lines[1]
    );
}

/// A Kinesis event of `records`, in a temporary directory (kept while the directory lives).
fn event_file(records: Vec<Value>) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let event = dir.path().join("event.json");
    std::fs::write(
        &event,
        serde_json::json!({ "Records": records }).to_string(),
    )
    .expect("write");
    (dir, event)
}

/// A Kinesis record whose payload is `payload`, with sequence number `seq`.
fn kinesis_record(seq: usize, payload: &str) -> Value {
    use base64::Engine;
    serde_json::json!({
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": format!("pk-{}", seq % 7),
            "sequenceNumber": format!("4959033827149025660855969253836157109592157598{seq:010}"),
            "data": base64::engine::general_purpose::STANDARD.encode(payload),
            "approximateArrivalTimestamp": 1795262400.5
        },
        "eventSource": "aws:kinesis",
        "eventID": format!("shardId-000000000003:{seq}"),
        "awsRegion": "us-east-1"
    })
}

#[test]
fn a_batch_read_part_by_part_keeps_the_first_of_each_event_across_parts() {
    // 3,000 records, more than one part. Records 0 to 1,999 are events e-0 to e-1999, but 7, 507, 1,007 and
    // 1,507 are poison. Records 2,000 to 2,999 repeat events e-0 to e-999 for another customer, but 2,100 and
    // 2,600 are poison: each repeat is a duplicate, except e-7 and e-507, whose first records were poison.
    let records: Vec<Value> = (0..3000)
        .map(|i| match i {
            7 | 507 | 1007 | 1507 | 2100 | 2600 => kinesis_record(i, "not json"),
            i if i >= 2000 => kinesis_record(
                i,
                &format!(
                    r#"{{"eventId": "e-{}", "customerId": "late-{i}"}}"#,
                    i - 2000
                ),
            ),
            i => kinesis_record(
                i,
                &format!(r#"{{"eventId": "e-{i}", "customerId": "first-{i}"}}"#),
            ),
        })
        .collect();
    let (dir, event) = event_file(records);
    let (run, out, dead) = normalize_into(dir.path(), &event);
    let events = lines(&out);
    assert_eq!(events.len(), 2000 - 4 + 2);
    let ids: Vec<&str> = events
        .iter()
        .map(|e| e["event_id"].as_str().expect("id"))
        .collect();
    let mut expected: Vec<String> = (0..2000)
        .filter(|i| ![7, 507, 1007, 1507].contains(i))
        .map(|i| format!("e-{i}"))
        .collect();
    expected.extend(["e-7".to_owned(), "e-507".to_owned()]);
    assert_eq!(ids, expected, "events in batch order, the first of each");
    for e in &events {
        let late = matches!(e["event_id"].as_str(), Some("e-7" | "e-507"));
        let customer = e["customer_id"].as_str().expect("customer");
        assert_eq!(customer.starts_with("late-"), late, "{e}");
    }
    let summary: Value = serde_json::from_slice(&run.stderr).expect("summary");
    assert_eq!(summary["records_in"], 3000);
    assert_eq!(summary["normalized"], 1998);
    assert_eq!(summary["dead_lettered"], 6);
    assert_eq!(summary["duplicates"], 1000 - 2 - 2);
    assert_eq!(lines(&dead).len(), 6);
}

#[test]
fn a_bad_record_in_a_later_part_leaves_no_output_behind() {
    let mut records: Vec<Value> = (0..2500)
        .map(|i| kinesis_record(i, &format!(r#"{{"eventId": "e-{i}"}}"#)))
        .collect();
    records[2300]["kinesis"]["sequenceNumber"] = Value::String(String::new());
    let (dir, event) = event_file(records);
    let out = dir.path().join("events.jsonl");
    let run = tributary(&["normalize", s(&event), "--out", s(&out)]);
    assert_eq!(run.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&run.stderr)
            .contains("record 2300 is missing kinesis.sequenceNumber"),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(!out.exists());
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert_eq!(left.len(), 1, "only the event file is left");
}

#[test]
fn events_can_go_to_a_device_and_the_two_outputs_must_differ() {
    let run = tributary_ok(&[
        "normalize",
        s(&root().join("events/kinesis-batch.json")),
        "--out",
        "/dev/null",
    ]);
    let summary: Value = serde_json::from_slice(&run.stderr).expect("summary");
    assert_eq!(summary["normalized"], 4);

    let dir = tempfile::tempdir().expect("temp dir");
    let both = dir.path().join("both.jsonl");
    let also = dir.path().join(".").join("both.jsonl");
    let run = tributary(&[
        "normalize",
        s(&root().join("events/kinesis-batch.json")),
        "--out",
        s(&both),
        "--dead-letter",
        s(&also),
    ]);
    assert_eq!(run.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&run.stderr).contains("name the same file"));
    assert!(!both.exists());
}

#[test]
fn an_output_reached_through_a_link_is_written_to_its_file_and_the_link_stays() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (file, link) = (
        dir.path().join("events.jsonl"),
        dir.path().join("latest.jsonl"),
    );
    std::fs::write(&file, "old\n").expect("write");
    std::os::unix::fs::symlink(&file, &link).expect("link");
    tributary_ok(&[
        "normalize",
        s(&root().join("events/kinesis-batch.json")),
        "--out",
        s(&link),
    ]);
    assert!(
        std::fs::symlink_metadata(&link)
            .expect("link")
            .file_type()
            .is_symlink()
    );
    assert_eq!(lines(&file).len(), 4);
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").collect();
    assert_eq!(left.len(), 2, "no temporary file is left");
}

#[test]
fn a_batch_larger_than_a_few_megabytes_reads_the_same_from_a_file_and_from_stdin() {
    // The file is read a block at a time (1 MiB), records across the blocks' ends; stdin is read whole. The two
    // must give the same events and dead letters.
    let note = "n".repeat(300);
    let records: Vec<Value> = (0..12_000)
        .map(|i| match i {
            5 | 11_999 => kinesis_record(i, "{not json"),
            i => kinesis_record(
                i,
                &format!(r#"{{"eventId": "e-{}", "Note": "{note}-{i}"}}"#, i % 11_000),
            ),
        })
        .collect();
    let (dir, event) = event_file(records);
    let size = std::fs::metadata(&event).expect("event").len();
    assert!(size > 8 << 20, "{size} bytes: the test wants a large event");
    let (run, out, dead) = normalize_into(dir.path(), &event);
    let piped = tributary_with_stdin(
        &[
            "normalize",
            "-",
            "--dead-letter",
            s(&dir.path().join("piped-dead.jsonl")),
        ],
        &std::fs::read(&event).expect("event"),
    );
    assert!(piped.status.success());
    let from_file: Vec<Value> = lines(&out).into_iter().map(without_time).collect();
    let from_stdin: Vec<Value> = String::from_utf8(piped.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| without_time(serde_json::from_str(l).expect("json line")))
        .collect();
    // e-0 to e-10999; e-5's first record is poison, so its event is the repeat's, the last to come.
    assert_eq!(from_file.len(), 11_000);
    assert_eq!(from_file[0]["event_id"], "e-0");
    let last = from_file.last().expect("last");
    assert_eq!(
        (&last["event_id"], &last["note"]),
        (&Value::from("e-5"), &Value::from(format!("{note}-11005")))
    );
    assert!(
        from_file == from_stdin,
        "the file and stdin gave different events"
    );
    assert_eq!(lines(&dead), lines(&dir.path().join("piped-dead.jsonl")));
    assert_eq!(lines(&dead).len(), 2);
    let summary: Value = serde_json::from_slice(&run.stderr).expect("summary");
    assert_eq!(summary["duplicates"], 998);
}

/// The events (without their processing time) and the dead letters of `event` read whole from stdin, and the
/// summary.
fn normalized_whole(
    dir: &std::path::Path,
    event: &std::path::Path,
) -> (Vec<Value>, Vec<Value>, Value) {
    let dead = dir.join("whole-dead.jsonl");
    let piped = tributary_with_stdin(
        &["normalize", "-", "--dead-letter", s(&dead)],
        &std::fs::read(event).expect("event"),
    );
    assert!(
        piped.status.success(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    let events = String::from_utf8(piped.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| without_time(serde_json::from_str(l).expect("json line")))
        .collect();
    let summary = serde_json::from_slice(&piped.stderr).expect("summary");
    (events, lines(&dead), summary)
}

fn without_time(mut v: Value) -> Value {
    v.as_object_mut().expect("object").remove("ingested_at");
    v
}

#[test]
fn a_file_read_in_blocks_gives_what_the_whole_event_gives_and_starts_again_when_it_must() {
    // A record longer than a block (its payload is too large: poison), and one whose text reaches across the
    // blocks' ends at any place, among 6,000 records of about 1 KiB.
    let long = format!(
        r#"{{"eventId": "long", "Note": "{}"}}"#,
        "x".repeat(1_300_000)
    );
    let records: Vec<Value> = (0..6000)
        .map(|i| match i {
            2_500 => kinesis_record(i, &long),
            i => kinesis_record(
                i,
                &format!(
                    r#"{{"eventId": "e-{}", "Note": "{}"}}"#,
                    i % 5_000,
                    "n".repeat(i % 700)
                ),
            ),
        })
        .collect();
    // Read in blocks as it is; and with a member after `Records`, found only at the end of the file, which makes
    // the event one to read whole: what was written by then is dropped, and the event is read again.
    let (dir, event) = event_file(records.clone());
    let later = dir.path().join("later.json");
    let text = serde_json::json!({ "Records": records }).to_string();
    std::fs::write(&later, format!("{},\"note\":1}}", &text[..text.len() - 1])).expect("write");
    for event in [&event, &later] {
        let (run, out, dead) = normalize_into(dir.path(), event);
        let (events, letters, summary) = normalized_whole(dir.path(), event);
        let from_file: Vec<Value> = lines(&out).into_iter().map(without_time).collect();
        // e-0 to e-4999 but e-2500, whose only record is the long one.
        assert_eq!(from_file.len(), 4_999, "{}", event.display());
        assert!(
            from_file == events,
            "{}: the file and stdin gave different events",
            event.display()
        );
        assert_eq!(lines(&dead), letters);
        assert_eq!(letters.len(), 1);
        assert_eq!(
            serde_json::from_slice::<Value>(&run.stderr).expect("summary"),
            summary
        );
        let left = std::fs::read_dir(dir.path()).expect("dir").count();
        assert_eq!(
            left, 5,
            "no temporary file is left (events, letters, whole letters, 2 events)"
        );
    }
}
