"""Services written as classes (``@bentoml.service``), served on the classic runtime."""
