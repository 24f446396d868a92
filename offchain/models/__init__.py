"""Models of finalised jobs: typed, predicting, exported as JSON, and as scikit-learn estimators.

    model = model_of(spec, result)          # the job's spec and its revealed result (a flat map)
    model.predict([{"age": 61, "bmi": 27.5}])
    text = dumps(model, job=7)              # docs/reference/models.md; loads(text) gives it back
    estimator = to_sklearn(model)           # with scikit-learn installed

Everything here is public arithmetic on a public result, outside MPC and
without the chain (mpcc.cli reads the job from the chain).
"""

from offchain.models.estimators import to_sklearn
from offchain.models.export import FORMAT, VERSION, dumps, export, load, loads
from offchain.models.model import (
    MODEL_ANALYSES,
    CategoricalNaiveBayes,
    DecisionTree,
    GaussianNaiveBayes,
    KMeans,
    LinearClassifier,
    LinearRegression,
    LinearSVM,
    LogisticRegression,
    Model,
    Node,
    Prediction,
    RandomForest,
    Row,
    model_of,
    records,
)

__all__ = ["FORMAT", "MODEL_ANALYSES", "VERSION", "CategoricalNaiveBayes", "DecisionTree", "GaussianNaiveBayes",
           "KMeans", "LinearClassifier", "LinearRegression", "LinearSVM", "LogisticRegression", "Model", "Node",
           "Prediction", "RandomForest", "Row", "dumps", "export", "load", "loads", "model_of", "records",
           "to_sklearn"]
