//! The gRPC services in process: a generated client against `serve_on`,
//! and AutoMTLS with a go-plugin style (P-521, CA) client certificate.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use tfplugin::codec::{from_msgpack, to_msgpack};
use tfplugin::proto::plugin as gp;
use tfplugin::proto::tfplugin6 as pb;
use tfplugin::*;

struct P;

#[async_trait]
impl Provider for P {
    fn schema(&self) -> Schema {
        Schema::new(Block::new().attribute(Attribute::new("region", Type::String).optional()))
    }
    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(R)]
    }
}

struct R;

#[async_trait]
impl Resource for R {
    fn type_name(&self) -> String {
        "t_r".into()
    }
    fn schema(&self) -> Schema {
        Schema::new(
            Block::new()
                .attribute(Attribute::new("id", Type::String).computed())
                .attribute(Attribute::new("name", Type::String).required().force_new())
                .attribute(Attribute::new("items", Type::set(Type::String)).optional()),
        )
        .version(2)
    }
    async fn validate(&self, config: &Value) -> Diagnostics {
        let mut d = Diagnostics::new();
        if config.get("name").and_then(Value::as_str) == Some("bad") {
            d.push(Diagnostic::error("Bad name", "no").at(AttributePath::attr("name")));
        }
        d
    }
    async fn apply(&self, req: ApplyRequest) -> ApplyResponse {
        let mut s = req.planned_state;
        s.set_attr("id", "x".into());
        ApplyResponse::ok(s)
    }
    async fn read(&self, req: ReadRequest) -> ReadResponse {
        ReadResponse {
            new_state: req.current_state,
            ..Default::default()
        }
    }
}

fn dv(v: &Value, ty: &Type) -> Option<pb::DynamicValue> {
    Some(pb::DynamicValue {
        msgpack: to_msgpack(v, ty).unwrap(),
        json: Vec::new(),
    })
}

#[tokio::test]
async fn provider_service_over_grpc() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(plugin::serve_on(listener, None, P, None));
    let url = format!("http://{addr}");
    let mut c = pb::provider_client::ProviderClient::connect(url.clone())
        .await
        .unwrap();

    let s = c
        .get_provider_schema(pb::get_provider_schema::Request {})
        .await
        .unwrap()
        .into_inner();
    let caps = s.server_capabilities.unwrap();
    assert!(caps.get_provider_schema_optional && !caps.plan_destroy);
    assert_eq!(s.resource_schemas["t_r"].version, 2);
    let md = c
        .get_metadata(pb::get_metadata::Request {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(md.resources[0].type_name, "t_r");

    let ty = R.schema().value_type();
    let cfg = |name: &str, items: Vec<Value>| {
        Value::object([
            ("id", Value::Null),
            ("name", name.into()),
            ("items", Value::Set(items)),
        ])
    };
    // Validation diagnostics carry their attribute path.
    let v = c
        .validate_resource_config(pb::validate_resource_config::Request {
            type_name: "t_r".into(),
            config: dv(&cfg("bad", vec![]), &ty),
            client_capabilities: None,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(v.diagnostics.len(), 1);
    assert!(v.diagnostics[0].attribute.is_some());

    // Create plan: id unknown, two unknown set elements survive.
    let proposed = cfg("a", vec![Value::unknown(), Value::unknown()]);
    let p = c
        .plan_resource_change(pb::plan_resource_change::Request {
            type_name: "t_r".into(),
            prior_state: dv(&Value::Null, &ty),
            proposed_new_state: dv(&proposed, &ty),
            config: dv(&proposed, &ty),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    let planned = from_msgpack(&p.planned_state.unwrap().msgpack, &ty).unwrap();
    assert!(planned.get("id").unwrap().is_unknown());
    assert_eq!(planned.get("items").unwrap().elements().unwrap().len(), 2);
    assert!(p.requires_replace.is_empty());

    // Update plan with a new name: RequiresReplace [name].
    let mut prior = cfg("a", vec!["x".into()]);
    prior.set_attr("id", "x".into());
    let mut proposed = cfg("b", vec!["x".into()]);
    proposed.set_attr("id", "x".into());
    let p = c
        .plan_resource_change(pb::plan_resource_change::Request {
            type_name: "t_r".into(),
            prior_state: dv(&prior, &ty),
            proposed_new_state: dv(&proposed, &ty),
            config: dv(&cfg("b", vec!["x".into()]), &ty),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(p.requires_replace.len(), 1);
    assert_eq!(
        AttributePath::from_proto(&p.requires_replace[0]),
        AttributePath::attr("name")
    );

    // Upgrade from the current version via JSON.
    let u = c
        .upgrade_resource_state(pb::upgrade_resource_state::Request {
            type_name: "t_r".into(),
            version: 2,
            raw_state: Some(pb::RawState {
                json: br#"{"id":"x","name":"a","items":["q"],"gone":1}"#.to_vec(),
                flatmap: Default::default(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(u.diagnostics.is_empty(), "{:?}", u.diagnostics);
    let up = from_msgpack(&u.upgraded_state.unwrap().msgpack, &ty).unwrap();
    assert_eq!(up.get("name"), Some(&Value::from("a")));
    // An older version without an upgrader is a clear error.
    let u = c
        .upgrade_resource_state(pb::upgrade_resource_state::Request {
            type_name: "t_r".into(),
            version: 1,
            raw_state: Some(pb::RawState {
                json: b"{}".to_vec(),
                flatmap: Default::default(),
            }),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(u.diagnostics.len(), 1);

    // Unknown resource types and unsupported features answer diagnostics.
    let r = c
        .read_resource(pb::read_resource::Request {
            type_name: "nope".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(r.diagnostics.len(), 1);
    let f = c
        .get_functions(pb::get_functions::Request {})
        .await
        .unwrap()
        .into_inner();
    assert!(f.functions.is_empty());
    let i = c
        .import_resource_state(pb::import_resource_state::Request {
            type_name: "t_r".into(),
            id: "x".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(i.diagnostics.len(), 1, "import unsupported by default");

    // Stdio stream opens; Shutdown stops the server and ends the stream.
    let mut stdio = gp::grpc_stdio_client::GrpcStdioClient::connect(url.clone())
        .await
        .unwrap();
    let mut stream = stdio.stream_stdio(()).await.unwrap().into_inner();
    let mut ctl = gp::grpc_controller_client::GrpcControllerClient::connect(url)
        .await
        .unwrap();
    ctl.shutdown(gp::Empty {}).await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(10), stream.next()).await;
    assert!(
        matches!(end, Ok(None) | Ok(Some(Err(_)))),
        "stdio stream ends"
    );
    drop((c, stdio, ctl, stream));
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops after Shutdown")
        .unwrap()
        .unwrap();
}

// ------------------------------------------------------------ AutoMTLS

/// A client certificate like go-plugin's (ECDSA P-521, self-signed, CA),
/// made once with openssl: `name` in tests/fixtures (`.crt`, and its key in
/// PKCS#8 as `.key`). The provider's crypto (ring) cannot make P-521 keys;
/// aws-lc-rs verifies their signatures. Answers the PEM, the DER, the key.
fn go_plugin_like_cert(name: &str) -> (String, Vec<u8>, Vec<u8>) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let der_of = |pem: &str| {
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap()
    };
    let pem = std::fs::read_to_string(dir.join(format!("{name}.crt"))).unwrap();
    let key = std::fs::read_to_string(dir.join(format!("{name}.key"))).unwrap();
    (pem.clone(), der_of(&pem), der_of(&key))
}

/// Trusts exactly the server certificate from the handshake line.
#[derive(Debug)]
struct PinnedServer(Vec<u8>);

impl rustls::client::danger::ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.0.as_slice() {
            Ok(rustls::client::danger::ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "unexpected server certificate".into(),
            ))
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algs = rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(m, c, d, &algs)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &rustls::pki_types::CertificateDer<'_>,
        d: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let algs = rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(m, c, d, &algs)
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::aws_lc_rs::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

async fn tls_client(
    addr: std::net::SocketAddr,
    server_der: &[u8],
    cert_der: Vec<u8>,
    key_der: Vec<u8>,
) -> std::io::Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedServer(server_der.to_vec())))
        .with_client_auth_cert(
            vec![cert_der.into()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key_der.into()),
        )
        .unwrap();
    cfg.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(cfg))
        .connect(name, tcp)
        .await
}

#[tokio::test]
async fn auto_mtls_accepts_only_the_announced_client_cert() {
    let (pem, der, key) = go_plugin_like_cert("go-plugin-client");
    let tls = plugin::AutoMtls::new(&pem).unwrap();
    let server_der = tls.server_cert_der.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut incoming = tls.incoming(listener);

    // The announced certificate: a connection comes through.
    let client = tls_client(addr, &server_der, der, key).await.unwrap();
    assert_eq!(client.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let conn = tokio::time::timeout(Duration::from_secs(10), incoming.next())
        .await
        .expect("accepted in time");
    assert!(matches!(conn, Some(Ok(_))));

    // Another certificate: no connection is produced.
    let (_, other_der, other_key) = go_plugin_like_cert("other-client");
    let _ = tls_client(addr, &server_der, other_der, other_key).await;
    let none = tokio::time::timeout(Duration::from_millis(1500), incoming.next()).await;
    assert!(
        none.is_err(),
        "a foreign client certificate must be refused"
    );
}

#[test]
fn bad_client_cert_pem_is_an_error() {
    assert!(plugin::AutoMtls::new("not a pem").is_err());
}
