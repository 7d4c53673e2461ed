//! go-plugin side of the connection: handshake, AutoMTLS, the controller
//! and stdio services, and the debug (reattach) mode.

use std::io::Write;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use base64::Engine;
use futures_util::StreamExt;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tonic::transport::server::Connected;
use tonic::{Request, Response, Status};

use crate::proto::plugin as gp;
use crate::proto::tfplugin6::provider_server::ProviderServer as GrpcProviderServer;
use crate::provider::Provider;
use crate::server::ProviderServer;

/// Environment variable holding the magic cookie.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";
/// Terraform's magic cookie value.
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";
/// go-plugin core protocol version.
pub const CORE_PROTOCOL_VERSION: u32 = 1;
/// Terraform plugin protocol major version served.
pub const APP_PROTOCOL_VERSION: u32 = 6;

/// Startup failure.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("not started by Terraform: {0}")]
    NotTerraform(String),
    #[error("{0}")]
    Protocol(String),
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Transport(#[from] tonic::transport::Error),
}

/// The handshake line go-plugin expects on stdout.
pub fn handshake_line(addr: SocketAddr, server_cert_der: Option<&[u8]>) -> String {
    let cert = server_cert_der
        .map(|d| base64::engine::general_purpose::STANDARD_NO_PAD.encode(d))
        .unwrap_or_default();
    format!("{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|tcp|{addr}|grpc|{cert}")
}

/// The `TF_REATTACH_PROVIDERS` value for a provider listening on `addr`.
pub fn reattach_json(provider_address: &str, addr: SocketAddr, pid: u32) -> String {
    serde_json::json!({
        provider_address: {
            "Protocol": "grpc",
            "ProtocolVersion": APP_PROTOCOL_VERSION,
            "Pid": pid,
            "Test": true,
            "Addr": { "Network": "tcp", "String": addr.to_string() },
        }
    })
    .to_string()
}

/// Check the environment Terraform sets up; returns whether AutoMTLS was
/// requested (the client certificate PEM).
pub fn check_environment() -> Result<Option<String>, ServeError> {
    match std::env::var(MAGIC_COOKIE_KEY) {
        Ok(v) if v == MAGIC_COOKIE_VALUE => {}
        _ => {
            return Err(ServeError::NotTerraform(
                "This binary is a plugin. These are not meant to be executed directly.\n\
                 Please execute the program that consumes these plugins, which will\n\
                 load any plugins automatically (or run it with --debug)."
                    .into(),
            ))
        }
    }
    if let Ok(v) = std::env::var("PLUGIN_PROTOCOL_VERSIONS") {
        let ok = v
            .split(',')
            .any(|s| s.trim().parse::<u32>() == Ok(APP_PROTOCOL_VERSION));
        if !ok {
            return Err(ServeError::Protocol(format!(
                "Incompatible API version with plugin. Plugin version: {APP_PROTOCOL_VERSION}, Client versions: {v}"
            )));
        }
    }
    Ok(std::env::var("PLUGIN_CLIENT_CERT")
        .ok()
        .filter(|s| !s.is_empty()))
}

/// Run the provider as Terraform expects: `--debug` in the arguments
/// selects [`serve_debug`], otherwise [`serve_plugin`]. Exits the process
/// with a message when started by hand.
pub async fn serve<P: Provider>(provider_address: &str, provider: P) {
    let r = if std::env::args().any(|a| a == "--debug" || a == "-debug") {
        serve_debug(provider_address, provider).await
    } else {
        serve_plugin(provider).await
    };
    if let Err(e) = r {
        eprintln!("{e}");
        std::process::exit(1);
    }
}

struct Controller {
    shutdown: watch::Sender<bool>,
}

#[tonic::async_trait]
impl gp::grpc_controller_server::GrpcController for Controller {
    async fn shutdown(&self, _req: Request<gp::Empty>) -> Result<Response<gp::Empty>, Status> {
        let _ = self.shutdown.send(true);
        Ok(Response::new(gp::Empty {}))
    }
}

struct Stdio {
    shutdown: watch::Receiver<bool>,
}

#[tonic::async_trait]
impl gp::grpc_stdio_server::GrpcStdio for Stdio {
    type StreamStdioStream =
        Pin<Box<dyn futures_util::Stream<Item = Result<gp::StdioData, Status>> + Send>>;

    async fn stream_stdio(
        &self,
        _req: Request<()>,
    ) -> Result<Response<Self::StreamStdioStream>, Status> {
        // Nothing is forwarded (our output goes to stderr, which Terraform
        // logs); the stream stays open until shutdown.
        let mut rx = self.shutdown.clone();
        let s = futures_util::stream::once(async move {
            let _ = rx.wait_for(|v| *v).await;
        })
        .filter_map(|_| async { None });
        Ok(Response::new(Box::pin(s)))
    }
}

fn router<P: Provider>(
    provider: P,
    shutdown: &watch::Sender<bool>,
) -> tonic::transport::server::Router {
    let mut b = tonic::transport::Server::builder();
    b.add_service(GrpcProviderServer::new(ProviderServer::new(provider)))
        .add_service(gp::grpc_controller_server::GrpcControllerServer::new(
            Controller {
                shutdown: shutdown.clone(),
            },
        ))
        .add_service(gp::grpc_stdio_server::GrpcStdioServer::new(Stdio {
            shutdown: shutdown.subscribe(),
        }))
}

fn ignore_interrupts() {
    // Terraform handles Ctrl-C and tells us to stop; the signal also
    // reaches our process group, so do not die of it.
    tokio::spawn(async {
        loop {
            if tokio::signal::ctrl_c().await.is_err() {
                break;
            }
        }
    });
}

async fn shutdown_signal(mut rx: watch::Receiver<bool>, hard_exit: bool) {
    let _ = rx.wait_for(|v| *v).await;
    if hard_exit {
        // Graceful shutdown should be quick; do not hang on stuck streams.
        tokio::spawn(async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            std::process::exit(0);
        });
    }
}

/// Serve under Terraform: check the handshake environment, listen on
/// loopback (TLS with AutoMTLS when Terraform asked for it), print the
/// handshake line, and serve until `GRPCController.Shutdown`.
pub async fn serve_plugin<P: Provider>(provider: P) -> Result<(), ServeError> {
    let client_cert = check_environment()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let tls = client_cert.as_deref().map(AutoMtls::new).transpose()?;
    ignore_interrupts();
    print_line(&handshake_line(
        addr,
        tls.as_ref().map(|t| t.server_cert_der.as_slice()),
    ))?;
    serve_inner(listener, tls, provider, None, true).await
}

/// Serve the provider, the controller and the stdio services on an
/// already bound listener (TLS when `tls` is given) until
/// `GRPCController.Shutdown` is called or `stop` resolves.
pub async fn serve_on<P: Provider>(
    listener: TcpListener,
    tls: Option<AutoMtls>,
    provider: P,
    stop: Option<Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
) -> Result<(), ServeError> {
    serve_inner(listener, tls, provider, stop, false).await
}

async fn serve_inner<P: Provider>(
    listener: TcpListener,
    tls: Option<AutoMtls>,
    provider: P,
    stop: Option<Pin<Box<dyn std::future::Future<Output = ()> + Send>>>,
    hard_exit: bool,
) -> Result<(), ServeError> {
    let (tx, rx) = watch::channel(false);
    let router = router(provider, &tx);
    if let Some(stop) = stop {
        let tx = tx.clone();
        tokio::spawn(async move {
            stop.await;
            let _ = tx.send(true);
        });
    }
    match tls {
        Some(tls) => {
            let incoming = tls.incoming(listener);
            router
                .serve_with_incoming_shutdown(incoming, shutdown_signal(rx, hard_exit))
                .await?;
        }
        None => {
            let incoming = tokio_stream::StreamExt::map(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                |conn| conn.inspect(no_delay),
            );
            router
                .serve_with_incoming_shutdown(incoming, shutdown_signal(rx, hard_exit))
                .await?;
        }
    }
    Ok(())
}

/// Send every write at once. With Nagle's algorithm on, a small write
/// behind an unacknowledged one waits for its ACK, which Terraform's side
/// delays by 40 ms: each answer of a few frames (headers, data, trailers)
/// took ~43 ms after the first call, and so did the exit after Shutdown
/// (a plan starts the provider 3 times and makes 4–6 such calls).
fn no_delay(tcp: &TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!("TCP_NODELAY: {e}");
    }
}

fn print_line(s: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{s}")?;
    out.flush()
}

/// Debug mode: listen without TLS and print the `TF_REATTACH_PROVIDERS`
/// setting; serve until Shutdown or Ctrl-C.
pub async fn serve_debug<P: Provider>(
    provider_address: &str,
    provider: P,
) -> Result<(), ServeError> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let json = reattach_json(provider_address, addr, std::process::id());
    print_line(&format!(
        "Provider started in debug mode. To use it, set in your shell:\n\n\tTF_REATTACH_PROVIDERS='{json}'\n"
    ))?;
    let ctrl_c = Box::pin(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    serve_inner(listener, None, provider, Some(ctrl_c), true).await
}

// --------------------------------------------------------------- AutoMTLS

/// TLS material for go-plugin AutoMTLS: a fresh self-signed server
/// certificate, and a verifier that accepts exactly the client certificate
/// Terraform announced in `PLUGIN_CLIENT_CERT`.
pub struct AutoMtls {
    pub server_cert_der: Vec<u8>,
    config: Arc<rustls::ServerConfig>,
}

/// Accepts only one exact certificate, and checks the handshake signature
/// against it. (A webpki chain check cannot be used: go-plugin's client
/// certificate is a CA certificate, which webpki refuses as an end entity.)
#[derive(Debug)]
struct ExactClientCert {
    der: Vec<u8>,
    algs: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for ExactClientCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.der.as_slice() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algs)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algs)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algs.supported_schemes()
    }
}

/// Parse the first PEM CERTIFICATE block.
fn pem_cert_der(pem: &str) -> Result<Vec<u8>, ServeError> {
    let bad = || ServeError::Tls("PLUGIN_CLIENT_CERT is not a PEM certificate".into());
    let start = pem.find("-----BEGIN CERTIFICATE-----").ok_or_else(bad)?;
    let body = &pem[start + "-----BEGIN CERTIFICATE-----".len()..];
    let end = body.find("-----END CERTIFICATE-----").ok_or_else(bad)?;
    let b64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| bad())
}

impl AutoMtls {
    pub fn new(client_cert_pem: &str) -> Result<Self, ServeError> {
        let client_der = pem_cert_der(client_cert_pem)?;
        let tls = |e: &dyn std::fmt::Display| ServeError::Tls(e.to_string());

        let key =
            rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(|e| tls(&e))?;
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string()]).map_err(|e| tls(&e))?;
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "localhost");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "HashiCorp");
        params
            .subject_alt_names
            .push(rcgen::SanType::IpAddress(std::net::IpAddr::V4(
                std::net::Ipv4Addr::LOCALHOST,
            )));
        params.extended_key_usages = vec![
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::DigitalSignature,
            rcgen::KeyUsagePurpose::KeyEncipherment,
            rcgen::KeyUsagePurpose::KeyCertSign,
        ];
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let now = std::time::SystemTime::now();
        params.not_before = (now - Duration::from_secs(30)).into();
        params.not_after = (now + Duration::from_secs(30 * 24 * 3600)).into();
        let cert = params.self_signed(&key).map_err(|e| tls(&e))?;
        let server_cert_der = cert.der().to_vec();

        // ring for everything that needs randomness (the key above, the
        // handshake's key exchange and signature), aws-lc-rs only to verify
        // the client's P-521 signature: aws-lc's generator is never seeded,
        // which costs 50-200 ms of CPU-jitter sampling per start.
        let provider = Arc::new(rustls::crypto::CryptoProvider {
            signature_verification_algorithms: rustls::crypto::aws_lc_rs::default_provider()
                .signature_verification_algorithms,
            ..rustls::crypto::ring::default_provider()
        });
        let verifier = Arc::new(ExactClientCert {
            der: client_der,
            algs: provider.signature_verification_algorithms,
        });
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| tls(&e))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![CertificateDer::from(server_cert_der.clone())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            )
            .map_err(|e| tls(&e))?;
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(AutoMtls {
            server_cert_der,
            config: Arc::new(config),
        })
    }

    /// Accept connections and complete TLS handshakes in the background;
    /// failed handshakes are dropped.
    pub fn incoming(
        &self,
        listener: TcpListener,
    ) -> tokio_stream::wrappers::ReceiverStream<Result<TlsConn, std::io::Error>> {
        let acceptor = tokio_rustls::TlsAcceptor::from(self.config.clone());
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            loop {
                let (tcp, _) = match listener.accept().await {
                    Ok(c) => c,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                no_delay(&tcp);
                let acceptor = acceptor.clone();
                let conn_tx = tx.clone();
                tokio::spawn(async move {
                    match acceptor.accept(tcp).await {
                        Ok(s) => {
                            let _ = conn_tx.send(Ok(TlsConn(Box::new(s)))).await;
                        }
                        Err(e) => tracing::warn!("TLS handshake failed: {e}"),
                    }
                });
                if tx.is_closed() {
                    break;
                }
            }
        });
        tokio_stream::wrappers::ReceiverStream::new(rx)
    }
}

/// A server-side TLS connection.
pub struct TlsConn(Box<tokio_rustls::server::TlsStream<TcpStream>>);

impl Connected for TlsConn {
    type ConnectInfo = ();
    fn connect_info(&self) -> Self::ConnectInfo {}
}

impl AsyncRead for TlsConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}
