//! The `floe` binary's site and name commands: `site publish --name`, `site show` by name and
//! by label, `site list`, `site update` (only what changed), `name show|claim|point|transfer`,
//! `site delete`; an empty directory, a bad `site.yaml`, a taken or invalid name refused with
//! typed errors. On the same cluster: `store --content-type` (given or guessed) and
//! `attr get|set|rm`.

use std::path::Path;

use floe_tests::{ClusterOptions, TestCluster};
use serde_json::Value;

use super::data::{client_config, floe, ok_json};

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/site")
}

fn err_code(out: &super::data::Out) -> (i32, Value) {
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out.code, v["error"]["code"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cli_sites_names_and_attributes() {
    let net = TestCluster::start(ClusterOptions {
        shards: 40,
        ..ClusterOptions::default()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = client_config(dir.path(), &net, 3);
    let site_dir = fixture();
    let site_arg = site_dir.to_str().unwrap();

    let out = ok_json(
        &floe(
            &config,
            &["--json", "site", "publish", site_arg, "--name", "docs-site"],
        )
        .await,
        "site publish",
    );
    let site = out["site"].as_str().unwrap().to_owned();
    let label = out["label"].as_str().unwrap().to_owned();
    assert_eq!(out["files"], 6);
    assert_eq!(out["url"], "http://docs-site.localhost:31415/");
    assert_eq!(label.len(), 50);

    for by in ["docs-site", label.as_str(), site.as_str()] {
        let shown = ok_json(
            &floe(&config, &["--json", "site", "show", by]).await,
            "show",
        );
        assert_eq!(shown["site"], site.as_str(), "{by}");
        let resources = &shown["object"]["record"]["resources"];
        assert_eq!(resources.as_object().unwrap().len(), 6);
        assert_eq!(resources["/style.css"]["content_type"], "text/css");
        assert_eq!(shown["object"]["record"]["routes"]["/app/*"], "/index.html");
    }
    let human = floe(&config, &["site", "show", "docs-site"]).await;
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("/docs/index.html") && text.contains("route    /app/* → /index.html"),
        "{text}"
    );
    let list = ok_json(&floe(&config, &["--json", "site", "list"]).await, "list");
    assert_eq!(list.as_array().unwrap().len(), 1);
    let name = ok_json(
        &floe(&config, &["--json", "name", "show", "docs-site"]).await,
        "name",
    );
    assert_eq!(name["site"], site.as_str());
    assert_eq!(name["expires"], 3);

    // An update of a copy with one file changed stores that file only.
    let copy = dir.path().join("copy");
    std::fs::create_dir_all(copy.join("docs")).unwrap();
    for f in [
        "index.html",
        "404.html",
        "style.css",
        "app.js",
        "logo.png",
        "site.yaml",
        "docs/index.html",
    ] {
        std::fs::copy(site_dir.join(f), copy.join(f)).unwrap();
    }
    std::fs::write(copy.join("style.css"), "body { color: black; }").unwrap();
    let up = ok_json(
        &floe(
            &config,
            &[
                "--json",
                "site",
                "update",
                copy.to_str().unwrap(),
                "docs-site",
            ],
        )
        .await,
        "update",
    );
    assert_eq!(up["stored"], serde_json::json!(["/style.css"]));
    assert_eq!(up["unchanged"], 5);

    // Names: taken, invalid, unknown; point elsewhere; transfer away.
    let taken = floe(&config, &["--json", "name", "claim", "docs-site"]).await;
    assert_eq!(err_code(&taken), (2, "name_taken".into()));
    let invalid = floe(&config, &["--json", "name", "claim", "Not.A.Label"]).await;
    assert_eq!(err_code(&invalid), (2, "invalid_name".into()));
    let unknown = floe(&config, &["--json", "site", "show", "nobody"]).await;
    assert_eq!(err_code(&unknown), (2, "unknown_name".into()));
    ok_json(
        &floe(&config, &["--json", "name", "point", "docs-site"]).await,
        "point",
    );
    let unpointed = floe(&config, &["--json", "site", "show", "docs-site"]).await;
    assert_eq!(err_code(&unpointed), (2, "unknown_name".into()));
    let other = floe_ledger::Address([7; 32]).to_string();
    ok_json(
        &floe(
            &config,
            &["--json", "name", "transfer", "docs-site", "--to", &other],
        )
        .await,
        "transfer",
    );
    let name = ok_json(
        &floe(&config, &["--json", "name", "show", "docs-site"]).await,
        "name",
    );
    assert_eq!(name["owner"], other.as_str());

    // Refused before anything is paid: an empty directory, a bad site.yaml.
    let empty = dir.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let e = floe(
        &config,
        &["--json", "site", "publish", empty.to_str().unwrap()],
    )
    .await;
    assert_eq!(err_code(&e), (1, "empty_site".into()));
    std::fs::write(copy.join("site.yaml"), "routes:\n  /*: /missing.html\n").unwrap();
    let e = floe(
        &config,
        &["--json", "site", "publish", copy.to_str().unwrap()],
    )
    .await;
    assert_eq!(err_code(&e), (1, "invalid_site".into()));

    // Delete by id.
    ok_json(
        &floe(&config, &["--json", "site", "delete", &site]).await,
        "delete",
    );
    let gone = floe(&config, &["--json", "site", "show", &site]).await;
    assert_eq!(err_code(&gone), (2, "unknown_site".into()));

    // Content types: guessed from the file name, or given; then attributes by hand.
    let page = dir.path().join("page.html");
    std::fs::write(&page, "<p>hello</p>").unwrap();
    let stored = ok_json(
        &floe(
            &config,
            &["--json", "store", page.to_str().unwrap(), "--content-type"],
        )
        .await,
        "store --content-type",
    );
    assert_eq!(stored["content_types"][0]["content_type"], "text/html");
    let object = stored["blobs"][0]["blob_object"]
        .as_str()
        .unwrap()
        .to_owned();
    let got = ok_json(
        &floe(&config, &["--json", "attr", "get", &object, "content-type"]).await,
        "attr get",
    );
    assert_eq!(got["value"], "text/html");
    let data = dir.path().join("data.bin");
    std::fs::write(&data, [1u8, 2, 3]).unwrap();
    let stored = ok_json(
        &floe(
            &config,
            &[
                "--json",
                "store",
                data.to_str().unwrap(),
                "--content-type",
                "application/x-floe",
            ],
        )
        .await,
        "store --content-type TYPE",
    );
    assert_eq!(
        stored["content_types"][0]["content_type"],
        "application/x-floe"
    );
    ok_json(
        &floe(
            &config,
            &["--json", "attr", "set", &object, "content-language", "en"],
        )
        .await,
        "attr set",
    );
    let all = ok_json(
        &floe(&config, &["--json", "attr", "get", &object]).await,
        "attr get all",
    );
    assert_eq!(all["attributes"]["content-language"], "en");
    assert_eq!(all["attributes"]["content-type"], "text/html");
    ok_json(
        &floe(
            &config,
            &["--json", "attr", "rm", &object, "content-language"],
        )
        .await,
        "attr rm",
    );
    let missing = floe(
        &config,
        &["--json", "attr", "get", &object, "content-language"],
    )
    .await;
    assert_eq!(err_code(&missing), (2, "unknown_attribute".into()));
    let zero = floe_common::ObjectId([0; 32]).to_string();
    let unknown = floe(&config, &["--json", "attr", "get", &zero]).await;
    assert_eq!(err_code(&unknown), (2, "unknown_object".into()));
    net.shutdown().await;
}
