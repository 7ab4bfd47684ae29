use super::*;

fn events(n: usize, tag: &str) -> Vec<JournalEvent> {
    (0..n)
        .map(|i| JournalEvent {
            id: format!("{tag}-{i}"),
            received_ns: i as i64,
            input: "http".into(),
            raw: format!("line {i}"),
            topic: None,
            session_id: None,
            rejected: None,
        })
        .collect()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

#[test]
fn appended_records_read_back_in_order_across_segments() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (writer, appender, durable) = JournalWriter::open(dir.path(), 0, 300, None, Ack::Synced).expect("open");
    let rt = rt();
    let mut ends = Vec::new();
    for r in 0..10 {
        ends.push(rt.block_on(appender.append(&events(3, &r.to_string()))).expect("append"));
    }
    assert!(segment::list(dir.path()).expect("list").len() > 1, "small segments should roll");
    let mut reader = JournalReader::new(dir.path(), 0, None);
    let entries = reader.read(*durable.borrow(), usize::MAX).expect("read");
    assert_eq!(entries.len(), 10);
    assert_eq!(entries.iter().map(|e| e.end_offset).collect::<Vec<_>>(), ends);
    assert_eq!(entries[7].events, events(3, "7"));
    appender.close();
    writer.join();
}

#[test]
fn reading_resumes_mid_journal_and_released_segments_are_gone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (writer, appender, _durable) = JournalWriter::open(dir.path(), 0, 200, None, Ack::Synced).expect("open");
    let rt = rt();
    let ends: Vec<u64> =
        (0..6).map(|r| rt.block_on(appender.append(&events(2, &r.to_string()))).expect("append")).collect();
    appender.close();
    writer.join();
    let mut reader = JournalReader::new(dir.path(), ends[2], None);
    let entries = reader.read(ends[5], usize::MAX).expect("read");
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[0].events, events(2, "3"));
    let before = segment::list(dir.path()).expect("list").len();
    let removed = reader::release(dir.path(), ends[4]).expect("release");
    assert!(removed > 0 && removed < before);
    let mut reader = JournalReader::new(dir.path(), ends[4], None);
    assert_eq!(reader.read(ends[5], usize::MAX).expect("read").len(), 1);
}

#[test]
fn torn_tail_is_cut_and_appends_continue_after_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = rt();
    let (writer, appender, _) = JournalWriter::open(dir.path(), 0, 1 << 20, None, Ack::Synced).expect("open");
    let end = rt.block_on(appender.append(&events(2, "a"))).expect("append");
    appender.close();
    writer.join();
    // A crash in the middle of writing the next record leaves half of it behind.
    let path = segment::path(dir.path(), 0);
    let half = &encode_record(&events(2, "torn"), None)[..10];
    let mut bytes = std::fs::read(&path).expect("read");
    bytes.extend_from_slice(half);
    std::fs::write(&path, bytes).expect("write");

    let (writer, appender, durable) = JournalWriter::open(dir.path(), 0, 1 << 20, None, Ack::Synced).expect("reopen");
    assert_eq!(*durable.borrow(), end, "the torn record is not durable");
    let end2 = rt.block_on(appender.append(&events(1, "b"))).expect("append");
    let entries = JournalReader::new(dir.path(), 0, None).read(end2, usize::MAX).expect("read");
    assert_eq!(entries.iter().map(|e| e.events[0].id.as_str()).collect::<Vec<_>>(), ["a-0", "b-0"]);
    appender.close();
    writer.join();
}

#[test]
fn floor_beyond_the_data_starts_a_new_segment_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (writer, appender, durable) = JournalWriter::open(dir.path(), 5000, 1 << 20, None, Ack::Synced).expect("open");
    assert_eq!(*durable.borrow(), 5000);
    let end = rt().block_on(appender.append(&events(1, "x"))).expect("append");
    let entries = JournalReader::new(dir.path(), 5000, None).read(end, usize::MAX).expect("read");
    assert_eq!(entries.len(), 1);
    appender.close();
    writer.join();
}

#[test]
fn encrypted_records_hold_no_plaintext_and_need_the_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cipher = JournalCipher::from_store_key(b"secret");
    let (writer, appender, durable) =
        JournalWriter::open(dir.path(), 0, 1 << 20, Some(cipher.clone()), Ack::Synced).expect("open");
    rt().block_on(appender.append(&events(3, "plaintext-marker"))).expect("append");
    appender.close();
    writer.join();
    let bytes = std::fs::read(segment::path(dir.path(), 0)).expect("read");
    assert!(!bytes.windows(16).any(|w| w == b"plaintext-marker"));
    let end = *durable.borrow();
    let entries = JournalReader::new(dir.path(), 0, Some(cipher)).read(end, usize::MAX).expect("read");
    assert_eq!(entries[0].events, events(3, "plaintext-marker"));
    let wrong = JournalReader::new(dir.path(), 0, Some(JournalCipher::from_store_key(b"nope"))).read(end, usize::MAX);
    assert!(matches!(wrong, Err(JournalError::Corrupt { .. })));
}

#[test]
fn written_acknowledgements_read_back_in_order_and_are_synced_by_the_timer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (writer, appender, durable) = JournalWriter::open(dir.path(), 0, 300, None, Ack::Written).expect("open");
    let rt = rt();
    let mut ends = Vec::new();
    for r in 0..10 {
        ends.push(rt.block_on(appender.append(&events(3, &r.to_string()))).expect("append"));
    }
    // Acknowledged means readable: the durable watch is at the last acknowledged end.
    assert_eq!(*durable.borrow(), ends[9]);
    assert!(segment::list(dir.path()).expect("list").len() > 1, "small segments should roll");
    let mut reader = JournalReader::new(dir.path(), 0, None);
    let entries = reader.read(*durable.borrow(), usize::MAX).expect("read");
    assert_eq!(entries.iter().map(|e| e.end_offset).collect::<Vec<_>>(), ends);
    assert_eq!(entries[9].events, events(3, "9"));
    appender.close();
    writer.join();
    // Reopened, the journal continues after everything that was acknowledged.
    let (writer, appender, durable) = JournalWriter::open(dir.path(), 0, 300, None, Ack::Written).expect("reopen");
    assert_eq!(*durable.borrow(), ends[9]);
    let next = rt.block_on(appender.append(&events(1, "after"))).expect("append");
    assert!(next > ends[9]);
    appender.close();
    writer.join();
}
