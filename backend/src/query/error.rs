//! Wire errors: `<ErrorResponse><Error><Type/><Code/><Message/></Error><RequestId/>`
//! with the HTTP status the model gives each code.

use super::ser::escape_into;
use super::shapes::MODEL;

/// An error as the client sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError {
    pub code: String,
    pub message: String,
}

/// Query-protocol errors that every operation may answer, with their statuses.
const COMMON: &[(&str, u16)] = &[
    ("InvalidParameterValue", 400),
    ("InvalidParameterCombination", 400),
    ("MissingParameter", 400),
    ("InvalidAction", 400),
    ("InvalidQueryParameter", 400),
    ("MalformedQueryString", 404),
    ("IncompleteSignature", 400),
    ("InvalidClientTokenId", 403),
    ("SignatureDoesNotMatch", 403),
    ("MissingAuthenticationToken", 403),
    ("RequestExpired", 400),
    ("AccessDenied", 403),
    ("Throttling", 400),
    ("ServiceUnavailable", 503),
    ("InternalFailure", 500),
    ("ValidationError", 400),
];

impl WireError {
    #[must_use]
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }

    #[must_use]
    pub fn invalid_action(action: &str) -> Self {
        Self::new(
            "InvalidAction",
            format!("The action {action} is not valid for this web service."),
        )
    }

    #[must_use]
    pub fn missing_parameter(name: &str) -> Self {
        Self::new(
            "MissingParameter",
            format!("The request must contain the parameter {name}"),
        )
    }

    #[must_use]
    pub fn invalid_parameter_value(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValue", message)
    }

    /// An internal failure: the detail is logged by the caller, never sent.
    #[must_use]
    pub fn internal(detail: impl Into<String>) -> Self {
        let detail = detail.into();
        tracing::error!(%detail, "internal failure");
        Self::new(
            "InternalFailure",
            "An internal error has occurred. Please try your query again at a later time.",
        )
    }

    /// HTTP status for this code: the model's, else the common table's, else 400.
    #[must_use]
    pub fn status(&self) -> u16 {
        if let Some((status, _)) = MODEL.errors.get(&self.code) {
            return *status;
        }
        COMMON
            .iter()
            .find(|(c, _)| *c == self.code)
            .map_or(400, |(_, s)| *s)
    }

    /// `Sender` for client faults, `Receiver` for ours.
    #[must_use]
    pub fn fault_type(&self) -> &'static str {
        match MODEL.errors.get(&self.code) {
            Some((_, false)) => "Receiver",
            Some((_, true)) => "Sender",
            None if self.status() >= 500 => "Receiver",
            None => "Sender",
        }
    }

    #[must_use]
    pub fn to_xml(&self, request_id: &str) -> String {
        let mut out = String::with_capacity(256);
        out.push_str("<ErrorResponse xmlns=\"");
        out.push_str(&MODEL.namespace);
        out.push_str("\"><Error><Type>");
        out.push_str(self.fault_type());
        out.push_str("</Type><Code>");
        escape_into(&self.code, &mut out);
        out.push_str("</Code><Message>");
        escape_into(&self.message, &mut out);
        out.push_str("</Message></Error><RequestId>");
        out.push_str(request_id);
        out.push_str("</RequestId></ErrorResponse>");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_come_from_the_model() {
        assert_eq!(WireError::new("CacheClusterNotFound", "x").status(), 404);
        assert_eq!(
            WireError::new("CacheSubnetGroupNotFoundFault", "x").status(),
            400
        );
        assert_eq!(WireError::new("InvalidAction", "x").status(), 400);
        assert_eq!(WireError::internal("boom").status(), 500);
        assert_eq!(WireError::internal("boom").fault_type(), "Receiver");
        let xml = WireError::new("CacheClusterNotFound", "Cache cluster x not found.").to_xml("r1");
        assert!(xml.contains("<Type>Sender</Type><Code>CacheClusterNotFound</Code>"));
        assert!(xml.ends_with("<RequestId>r1</RequestId></ErrorResponse>"));
    }
}
