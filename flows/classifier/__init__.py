"""From the caller's words to a disposition: ``Classifier.default().classify(text) -> Classification``."""

from flows.classifier.engine import Classifier
from flows.classifier.model import Classification

__all__ = ["Classification", "Classifier"]
