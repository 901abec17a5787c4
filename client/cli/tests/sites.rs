//! Sites on a real cluster, served by `floe daemon`'s portal over real sockets: a fixture
//! directory published (quilts + site record + name), every file served byte-exact at
//! `http://<name>.localhost:PORT/…` and at the site's label, with its type, headers, `ETag`,
//! `Range`, index pages, routes, redirects and the 404 page; an update that stores only what
//! changed; a lying storage node that cannot change a byte; and bad paths refused.

use std::path::{Path, PathBuf};

use floe_cli::daemon::DaemonOptions;
use floe_client::blobs::{Persistence, StoreOptions};
use floe_client::sites::{self, SiteError, SiteFiles};
use floe_common::site::site_label;
use floe_tests::{ClusterOptions, TestCluster, faults};
use reqwest::StatusCode;
use tokio_util::sync::CancellationToken;

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/site")
}

#[path = "support/daemon.rs"]
mod support;

async fn portal(cluster: &TestCluster) -> (std::net::SocketAddr, CancellationToken) {
    support::serve(cluster, &DaemonOptions::default()).await
}

/// An HTTP client that sends `*.localhost` to the portal (as browsers resolve `localhost`).
fn http_client(addr: std::net::SocketAddr, hosts: &[&str]) -> reqwest::Client {
    let mut b = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    for h in hosts {
        b = b.resolve(h, addr);
    }
    b.build().unwrap()
}

fn opts() -> StoreOptions {
    StoreOptions {
        epochs: 5,
        persistence: Persistence::Deletable,
        ..StoreOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn n4_site_published_and_served_by_the_portal() {
    let mut cluster = TestCluster::start(ClusterOptions {
        shards: 40,
        ..ClusterOptions::default()
    })
    .await;
    let client = cluster.client().await;
    let floe = cluster.floe().await;
    let files = SiteFiles::from_dir(&fixture()).unwrap();
    assert!(
        !files.files.contains_key("/site.yaml"),
        "the config is not published"
    );
    let out = sites::publish_site(&client, &floe, &files, &opts(), Some(("demo", 5)))
        .await
        .unwrap();
    assert_eq!(out.quilts.len(), 1, "one quilt for a small site");
    assert_eq!(out.record.resources.len(), 6);
    assert_eq!(out.record.not_found.as_deref(), Some("/404.html"));

    let (addr, stop) = portal(&cluster).await;
    let label = site_label(&out.site);
    let hosts = ["demo.localhost".to_owned(), format!("{label}.localhost")];
    let http = http_client(addr, &[&hosts[0], &hosts[1]]);
    let port = addr.port();
    let get = |host: &str, path: &str| {
        let url = format!("http://{host}:{port}{path}");
        let req = http.get(url);
        async move { req.send().await.unwrap() }
    };
    let body_of = |p: &str| std::fs::read(fixture().join(p.trim_start_matches('/'))).unwrap();

    // Every file, byte-exact, with its type; directories serve their index.html.
    for (path, file, ty) in [
        ("/", "index.html", "text/html"),
        ("/index.html", "index.html", "text/html"),
        ("/docs/", "docs/index.html", "text/html"),
        ("/docs", "docs/index.html", "text/html"),
        ("/style.css", "style.css", "text/css"),
        ("/app.js", "app.js", "javascript"),
        ("/logo.png", "logo.png", "image/png"),
    ] {
        let r = get("demo.localhost", path).await;
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(ct.contains(ty), "{path}: {ct}");
        assert!(
            r.headers().get("content-security-policy").is_none(),
            "sites run scripts"
        );
        assert_eq!(r.headers()["x-site"], "floe-demo");
        assert_eq!(r.bytes().await.unwrap().as_ref(), body_of(file), "{path}");
    }
    // The same site at its label.
    let r = get(&hosts[1], "/docs/").await;
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        body_of("docs/index.html")
    );
    // Headers from site.yaml, the hash as ETag, and a conditional request.
    let r = get("demo.localhost", "/").await;
    assert_eq!(r.headers()["cache-control"], "no-cache");
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let hash = out.record.resources["/index.html"].hash;
    assert_eq!(etag, format!("\"{}\"", hex::encode(hash.0)));
    let r = http
        .get(format!("http://demo.localhost:{port}/"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let r = get("demo.localhost", "/style.css").await;
    assert_eq!(r.headers()["cache-control"], "public, max-age=60");
    // Range on a file.
    let r = http
        .get(format!("http://demo.localhost:{port}/logo.png"))
        .header("range", "bytes=1-8")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        r.bytes().await.unwrap().as_ref(),
        &body_of("logo.png")[1..9]
    );
    // Routes, redirects, the 404 page.
    let r = get("demo.localhost", "/app/some/deep/link").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.bytes().await.unwrap().as_ref(), body_of("index.html"));
    let r = get("demo.localhost", "/old.html").await;
    assert_eq!(r.status(), StatusCode::FOUND);
    assert_eq!(r.headers()["location"], "/docs/");
    let r = get("demo.localhost", "/no/such/page").await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.bytes().await.unwrap().as_ref(), body_of("404.html"));
    // Unknown names and sites.
    let unknown = http_client(addr, &["nobody.localhost"]);
    let r = unknown
        .get(format!("http://nobody.localhost:{port}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // The landing page lists the sites served.
    let landing = reqwest::get(format!("http://{addr}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        landing.contains("demo.localhost") && landing.contains(&label),
        "{landing}"
    );

    // A lying storage node cannot change a byte of the site.
    let (hook, _) = faults::liar();
    cluster.stop_node(1).await;
    cluster.start_node_with(1, Some(hook)).await;
    let (addr2, stop2) = portal(&cluster).await;
    let http2 = http_for(addr2);
    for path in ["/", "/logo.png", "/style.css", "/docs/"] {
        let r = http2
            .get(format!("http://demo.localhost:{}{path}", addr2.port()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let want = if path.ends_with('/') {
            body_of(&format!("{path}index.html"))
        } else {
            body_of(path)
        };
        assert_eq!(r.bytes().await.unwrap().as_ref(), want, "{path}");
    }
    stop2.cancel();

    // An update stores only the changed and new files, in one transaction.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture(), dir.path());
    std::fs::write(
        dir.path().join("docs/index.html"),
        "<h1>Docs, version 2</h1>",
    )
    .unwrap();
    std::fs::write(dir.path().join("new.html"), "<p>new</p>").unwrap();
    std::fs::remove_file(dir.path().join("app.js")).unwrap();
    let files = SiteFiles::from_dir(dir.path()).unwrap();
    let up = sites::update_site(&client, &floe, &out.site, &files, &opts())
        .await
        .unwrap();
    assert_eq!(up.stored, vec!["/docs/index.html", "/new.html"]);
    assert_eq!(up.removed, vec!["/app.js"]);
    assert_eq!(up.unchanged, 4);
    assert!(up.receipt.is_some());
    let again = sites::update_site(&client, &floe, &out.site, &files, &opts())
        .await
        .unwrap();
    assert!(
        again.receipt.is_none() && again.stored.is_empty(),
        "nothing changed"
    );
    let (addr3, stop3) = portal(&cluster).await;
    let http3 = http_for(addr3);
    let text = |path: &'static str| {
        let req = http3.get(format!("http://demo.localhost:{}{path}", addr3.port()));
        async move {
            let r = req.send().await.unwrap();
            (r.status(), r.text().await.unwrap())
        }
    };
    assert_eq!(
        text("/docs/").await,
        (StatusCode::OK, "<h1>Docs, version 2</h1>".into())
    );
    assert_eq!(
        text("/new.html").await,
        (StatusCode::OK, "<p>new</p>".into())
    );
    assert_eq!(text("/app.js").await.0, StatusCode::NOT_FOUND);
    stop3.cancel();
    stop.cancel();
    cluster.shutdown().await;
}

fn http_for(addr: std::net::SocketAddr) -> reqwest::Client {
    http_client(addr, &["demo.localhost"])
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let p = entry.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn adv_bad_sites_and_paths_are_refused() {
    // Refused before anything is paid: an empty directory, a site.yaml that does not parse or
    // names missing files, redirects that loop.
    let dir = tempfile::tempdir().unwrap();
    assert!(matches!(
        SiteFiles::from_dir(dir.path()),
        Err(SiteError::Empty(_))
    ));
    std::fs::write(dir.path().join("index.html"), "x").unwrap();
    for (yaml, want) in [
        ("routes: [", "site.yaml"),
        ("rutes: {}", "site.yaml"),
        ("routes:\n  /*: /missing.html\n", "not a file"),
        ("not_found: /nope.html\n", "not a file"),
        ("redirects:\n  /a: /b\n  /b: /a\n", "loop"),
    ] {
        std::fs::write(dir.path().join("site.yaml"), yaml).unwrap();
        let err = SiteFiles::from_dir(dir.path()).and_then(|f| f.check_offline().map(|()| f));
        let text = err.map(|_| String::new()).unwrap_or_else(|e| e.to_string());
        assert!(text.contains(want), "{yaml:?}: {text:?}");
    }

    // The portal refuses paths that leave the site, encoded or not.
    let cluster = TestCluster::start(ClusterOptions::default()).await;
    let client = cluster.client().await;
    let floe = cluster.floe().await;
    std::fs::remove_file(dir.path().join("site.yaml")).unwrap();
    let files = SiteFiles::from_dir(dir.path()).unwrap();
    let out = sites::publish_site(&client, &floe, &files, &opts(), Some(("trav", 3)))
        .await
        .unwrap();
    let (addr, stop) = portal(&cluster).await;
    let port = addr.port();
    for raw in [
        "/%2e%2e/%2e%2e/etc/passwd",
        "/a/%2E%2E/index.html",
        "/%zz",
        "/a%00b",
    ] {
        // Raw bytes on the socket: an HTTP client would normalize the dots away.
        let req = format!(
            "GET {raw} HTTP/1.1\r\nHost: trav.localhost:{port}\r\nConnection: close\r\n\r\n"
        );
        let answer = raw_http(addr, &req).await;
        assert!(answer.starts_with("HTTP/1.1 400"), "{raw}: {answer}");
    }
    let ok = raw_http(
        addr,
        &format!("GET / HTTP/1.1\r\nHost: trav.localhost:{port}\r\nConnection: close\r\n\r\n"),
    )
    .await;
    assert!(ok.starts_with("HTTP/1.1 200") && ok.ends_with('x'), "{ok}");
    // A name already taken is refused before anything is stored or paid.
    let balance = floe.balance().await.unwrap();
    let err = sites::publish_site(&client, &floe, &files, &opts(), Some(("trav", 3)))
        .await
        .unwrap_err();
    assert!(matches!(err, SiteError::NameTaken { .. }), "{err}");
    assert_eq!(floe.balance().await.unwrap(), balance, "nothing was paid");
    let _ = out;
    stop.cancel();
    cluster.shutdown().await;
}

async fn raw_http(addr: std::net::SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    String::from_utf8_lossy(&out).into_owned()
}
