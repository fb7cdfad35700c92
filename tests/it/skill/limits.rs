//! Every limit Kakao puts on a skill reply, checked on the served JSON (the checker is
//! shared with the skill's unit tests: `testkit::kakao`).

pub use testkit::kakao::check_reply;
