//! A site in a real browser: the fixture site (two pages, a stylesheet, an image, a script
//! that changes the DOM, a 404 page) published on a 10-node cluster and loaded through the
//! portal in headless Chromium, driven over the DevTools protocol. Checks that the script ran,
//! the stylesheet applied, the image decoded, a link leads to the second page, an unknown path
//! shows the site's 404 page, and all of it still works with 3 of the 10 nodes stopped. The
//! screenshot is kept in the target directory (`browser-site.png`).
//!
//! Needs Chromium (`apt-get install chromium`; `.ci/run` installs it, `$CHROMIUM` overrides).

use std::path::Path;
use std::sync::Arc;

use floe_cli::daemon::{self, DaemonOptions};
use floe_client::blobs::{Persistence, StoreOptions};
use floe_client::sites::{self, SiteFiles};
use floe_tests::browser::{Browser, chromium};
use floe_tests::{ClusterOptions, TestCluster};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// What the page shows: the script's mark, the title's color, the image's width, the title.
fn page_state(b: &mut Browser) -> Value {
    b.eval(
        "(() => { const t = document.getElementById('title'); \
                  const img = document.getElementById('logo'); \
                  return { script: document.body?.dataset.script ?? null, \
                           color: t ? getComputedStyle(t).color : null, \
                           image: img ? img.naturalWidth : 0, \
                           title: t ? t.textContent : null, \
                           path: location.pathname }; })()",
    )
    .expect("page state")
}

/// Checks the home page in full.
fn check_home(b: &mut Browser, url: &str) {
    b.open(url).expect("home page");
    let s = page_state(b);
    assert_eq!(s["script"], "ran", "the script ran: {s}");
    assert_eq!(
        s["color"], "rgb(10, 120, 200)",
        "the stylesheet applied: {s}"
    );
    assert_eq!(s["image"], 24, "the image decoded: {s}");
    assert_eq!(s["title"], "A site on Floe", "{s}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n10f3_site_in_a_browser() {
    let binary = chromium().expect(
        "this test needs Chromium: `apt-get install chromium` (or set CHROMIUM to its path)",
    );
    let mut cluster = TestCluster::start(ClusterOptions {
        nodes: 10,
        shards: 20,
        ..ClusterOptions::default()
    })
    .await;
    let client = cluster.client().await;
    let floe = cluster.floe().await;
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/site");
    let files = SiteFiles::from_dir(&fixture).unwrap();
    let opts = StoreOptions {
        epochs: 5,
        persistence: Persistence::Deletable,
        ..StoreOptions::default()
    };
    sites::publish_site(&client, &floe, &files, &opts, Some(("demo", 5)))
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = CancellationToken::new();
    tokio::spawn(daemon::serve(
        listener,
        daemon::router(Arc::new(cluster.client().await), &DaemonOptions::default()),
        stop.clone(),
    ));
    let home = format!("http://demo.localhost:{port}/");

    // The browser runs on a blocking thread; the cluster goes on serving on the others.
    let screenshot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser-site.png");
    let (home2, shot) = (home.clone(), screenshot.clone());
    let mut browser = tokio::task::spawn_blocking(move || {
        let mut b = Browser::start(&binary).expect("chromium starts");
        check_home(&mut b, &home2);
        let png = b.screenshot().expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(&shot, png).unwrap();
        // Following the link gives the second page.
        b.eval("document.getElementById('next').click()").unwrap();
        b.wait_loaded("/docs/")
            .expect("the link leads to the second page");
        let s = page_state(&mut b);
        assert_eq!(s["title"], "Second page", "{s}");
        assert_eq!(s["color"], "rgb(10, 120, 200)", "{s}");
        // An unknown path shows the site's 404 page (with status 404).
        b.open(&format!("{home2}no/such/page")).unwrap();
        let s = page_state(&mut b);
        assert!(
            s["title"].as_str().unwrap_or("").contains("404"),
            "the site's 404 page: {s}"
        );
        b
    })
    .await
    .unwrap();
    eprintln!("screenshot: {}", screenshot.display());

    // 3 of the 10 nodes stopped: the pages still load, bypassing the browser's cache.
    for i in [0, 4, 7] {
        cluster.stop_node(i).await;
    }
    browser = tokio::task::spawn_blocking(move || {
        browser.call("Network.enable", json!({})).unwrap();
        browser
            .call("Network.setCacheDisabled", json!({ "cacheDisabled": true }))
            .unwrap();
        check_home(&mut browser, &home);
        browser.open(&format!("{home}docs/")).unwrap();
        assert_eq!(page_state(&mut browser)["title"], "Second page");
        browser
    })
    .await
    .unwrap();
    drop(browser);
    stop.cancel();
    cluster.shutdown().await;
}
