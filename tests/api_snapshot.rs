//! The snapshot over HTTP: retry and stuck lists paged, sorted and filtered on the server,
//! each with its own parameters and totals; bad parameters are refused with a reason.

mod api_harness;

use api_harness::Harness;
use statmgr::api::client::ClientError;
use statmgr::api::wire::{ApiError, FileKind, FileQuery, ProcessorState, SortKey};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_are_paged_sorted_and_filtered_with_totals() {
    let h = Harness::start().await;
    for i in 0..1500u32 {
        let error = if i % 3 == 0 {
            "database is locked"
        } else {
            "disk I/O error"
        };
        h.telemetry.upsert_file(
            FileKind::Retry,
            statmgr::processor::telemetry::FileEntry {
                name: format!("r{i:05}.retry"),
                messages: u64::from(i),
                attempts: i % 7,
                next_attempt: None,
                last_error: error.into(),
                created: std::time::SystemTime::now(),
            },
        );
    }
    h.put_file(FileKind::Stuck, "s1.retry", 20, "UNIQUE constraint failed");
    h.put_file(FileKind::Stuck, "s2.retry", 20, "value too long");
    h.commit_batch(1);
    let client = h.client();

    let s = client
        .snapshot(&FileQuery::default(), &FileQuery::default())
        .await
        .unwrap();
    assert_eq!(s.state, ProcessorState::Running);
    assert_eq!(
        (s.retry.total, s.retry.files.len()),
        (1500, 100),
        "default page is 100"
    );
    assert_eq!((s.stuck.total, s.stuck.files.len()), (2, 2));
    assert_eq!(s.batches[0].id, 1);
    assert_eq!(s.counters.batches, 1);
    assert!(s.last_event_id >= 1);

    let retry = FileQuery {
        offset: 10,
        limit: 3,
        sort: SortKey::Messages,
        desc: true,
        filter: Some("LOCKED".into()),
    };
    let stuck = FileQuery {
        filter: Some("too long".into()),
        ..FileQuery::default()
    };
    let s = client.snapshot(&retry, &stuck).await.unwrap();
    assert_eq!(s.retry.total, 500);
    assert_eq!(s.retry.total_unfiltered, 1500);
    let names: Vec<&str> = s.retry.files.iter().map(|f| f.name.as_str()).collect();
    // Multiples of 3, largest message count first, from the 11th on.
    assert_eq!(names, ["r01467.retry", "r01464.retry", "r01461.retry"]);
    assert_eq!(s.stuck.total, 1);
    assert_eq!(s.stuck.files[0].name, "s2.retry");

    let everything = FileQuery {
        limit: 1000,
        ..FileQuery::default()
    };
    let s = client.snapshot(&everything, &FileQuery::default()).await.unwrap();
    assert_eq!(s.retry.files.len(), 1000, "the largest page");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_parameters_are_400_with_the_reason() {
    let h = Harness::start().await;
    let raw = h.raw();
    for (query, expect) in [
        ("limit=1001", "over the largest page"),
        ("stuck_limit=5000", "stuck_limit"),
        ("offset=-1", "not a non-negative integer"),
        ("sort=size", "not one of"),
        ("stuck_desc=maybe", "not true or false"),
        ("page=2", "unknown query parameter `page`"),
        ("limit=1&limit=2", "more than once"),
    ] {
        let response = raw
            .get(h.url(&format!("/api/v1/snapshot?{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{query}");
        let body: ApiError = response.json().await.unwrap();
        assert!(body.error.contains(expect), "{query}: {}", body.error);
    }
    let too_big = FileQuery {
        limit: 1001,
        ..FileQuery::default()
    };
    match h.client().snapshot(&too_big, &FileQuery::default()).await {
        Err(ClientError::Refused { status: 400, message }) => assert!(message.contains("1001"), "{message}"),
        other => panic!("expected 400, got {other:?}"),
    }
    let response = raw
        .get(h.url("/api/v1/retry/a.retry?limit=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    h.stop().await;
}
