//! Per-function IR: a control-flow graph whose statements are ownership-relevant operations.
