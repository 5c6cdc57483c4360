//! An error answer of the API: a status code and a human message, sent as `wire::ApiError`.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::api::wire::ApiError;
use crate::processor::control::ControlError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiFailure {
    pub status: StatusCode,
    pub message: String,
}

impl ApiFailure {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiFailure {
        ApiFailure {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn not_found(message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(StatusCode::NOT_FOUND, message)
    }

    pub fn forbidden(message: impl Into<String>) -> ApiFailure {
        ApiFailure::new(StatusCode::FORBIDDEN, message)
    }
}

/// The status code of each refusal of the processor's control surface.
pub fn control_status(e: &ControlError) -> StatusCode {
    match e {
        ControlError::BadName(_) => StatusCode::BAD_REQUEST,
        ControlError::NotFound(_) => StatusCode::NOT_FOUND,
        ControlError::Stale(_) => StatusCode::CONFLICT,
        ControlError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ControlError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<ControlError> for ApiFailure {
    fn from(e: ControlError) -> ApiFailure {
        ApiFailure::new(control_status(&e), e.to_string())
    }
}

impl IntoResponse for ApiFailure {
    fn into_response(self) -> Response {
        let body = Json(ApiError {
            error: self.message,
            status: self.status.as_u16(),
        });
        let mut response = (self.status, body).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_error_has_its_status() {
        let cases = [
            (ControlError::BadName("x".into()), 400),
            (ControlError::NotFound("x".into()), 404),
            (ControlError::Stale("x".into()), 409),
            (ControlError::Unavailable("x".into()), 503),
            (ControlError::Failed("x".into()), 500),
        ];
        for (e, code) in cases {
            let failure = ApiFailure::from(e.clone());
            assert_eq!(failure.status.as_u16(), code, "{e:?}");
            assert_eq!(failure.message, "x");
        }
    }

    #[test]
    fn the_body_is_the_wire_error_and_401_names_the_scheme() {
        let response = ApiFailure::new(StatusCode::UNAUTHORIZED, "no token").into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }
}
