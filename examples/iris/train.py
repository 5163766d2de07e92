"""Train an iris classifier and save it to the model store as ``iris_clf``."""

from sklearn import datasets, svm

import bentoml_classic as bentoml


def main() -> None:
    iris = datasets.load_iris()  # bundled with scikit-learn: nothing is downloaded
    clf = svm.SVC(gamma="scale")
    clf.fit(iris.data, iris.target)
    # batchable: concurrent requests are answered by one predict() call on all their rows
    saved = bentoml.sklearn.save_model(
        "iris_clf", clf, signatures={"predict": {"batchable": True, "batch_dim": 0}}
    )
    print(f"Model saved: {saved.tag}")


if __name__ == "__main__":
    main()
