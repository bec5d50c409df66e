"""The Great Expectations gate: every config of a dataset is validated before it is published.

One ephemeral GX context per build holds a suite and a validation definition per config
(built from its `ConfigExpectations`: column set, types, nulls, unique ids, label sets,
length bounds, label shares) and, when a folder is given, one Data Docs site with every
config's suite and validation result. GX validates pandas, not polars: the frame is
derived at this boundary (`validation_frame.py`). GX is slow to import (several seconds),
so it is imported only when a gate runs, with its analytics and progress bars off.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from rolemill.schemas.expectations import ConfigExpectations
from rolemill.tasks.validation_failures import QUOTED_VALUES, describe_failure
from rolemill.tasks.validation_frame import gx_frame, json_compared_columns

__all__ = [
    "ConfigExpectations",
    "GateReport",
    "GateResult",
    "ValidationGate",
    "ValidationGateError",
    "raise_if_failed",
    "run_gate",
    "validate_config",
]

DATA_DOCS_SITE = "rolemill"


@dataclass
class GateResult:
    """The outcome of validating one config."""

    config: str
    success: bool
    failures: list[str] = field(default_factory=list)
    """one readable line per failed expectation"""
    evaluated: int = 0
    """how many expectations were evaluated"""


@dataclass
class GateReport:
    """Every config's outcome and the Data Docs page that shows them all."""

    results: list[GateResult]
    data_docs: Path | None = None
    """index.html of the Data Docs site, when one was written"""

    @property
    def success(self) -> bool:
        return all(result.success for result in self.results)

    def failure_lines(self) -> list[str]:
        """`config: failure` for every failed expectation of every config."""
        return [f"{r.config}: {failure}" for r in self.results for failure in r.failures]


class ValidationGateError(Exception):
    """One or more configs failed the validation gate; nothing may be published."""

    def __init__(self, results: Sequence[GateResult], data_docs: Path | None = None) -> None:
        self.results = [r for r in results if not r.success]
        self.data_docs = data_docs
        lines = [
            f"validation gate failed for {len(self.results)} of {len(results)} config(s); "
            "fix the generator or filter that produced these rows (or the recipe's "
            "`validation` bounds), then rebuild:"
        ]
        for result in self.results:
            lines.append(
                f"  config `{result.config}` ({len(result.failures)} of "
                f"{result.evaluated} expectations failed):"
            )
            lines.extend(f"    - {failure}" for failure in result.failures)
        if data_docs is not None:
            lines.append(f"  Data Docs (every config's suite and result): {data_docs}")
        super().__init__("\n".join(lines))


def raise_if_failed(report: GateReport) -> None:
    """Raise `ValidationGateError` naming every failed config and expectation, if any failed."""
    if not report.success:
        raise ValidationGateError(report.results, report.data_docs)


class ValidationGate:
    """One GX context for one build: a suite per config and one Data Docs site."""

    def __init__(self, data_docs: Path | None = None) -> None:
        """data_docs: the folder the Data Docs site is written to (None: no site)."""
        self._gx = _import_gx()
        from great_expectations.data_context.types.base import ProgressBarsConfig

        self._context = self._gx.get_context(mode="ephemeral")
        self._context.variables.progress_bars = ProgressBarsConfig(
            globally=False, metric_calculations=False
        )
        self._data_docs = data_docs
        if data_docs is not None:
            self._context.add_data_docs_site(
                DATA_DOCS_SITE,
                {
                    "class_name": "SiteBuilder",
                    "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
                    "store_backend": {
                        "class_name": "TupleFilesystemStoreBackend",
                        "base_directory": str(data_docs),
                    },
                },
            )
        self._source = self._context.data_sources.add_pandas("rolemill")
        self._validated: set[str] = set()

    def validate(
        self, config_name: str, frame: pl.DataFrame, expectations: ConfigExpectations
    ) -> GateResult:
        """Validate one config's frame; its result joins the Data Docs site."""
        if config_name in self._validated:
            raise ValueError(f"config `{config_name}` was already validated by this gate")
        self._validated.add(config_name)
        gx = self._gx
        batch_definition = self._source.add_dataframe_asset(
            config_name
        ).add_batch_definition_whole_dataframe("whole frame")
        suite = self._context.suites.add(gx.ExpectationSuite(name=f"rolemill-{config_name}"))
        for expectation in _expectations(gx.expectations, expectations, frame.schema):
            suite.add_expectation(expectation)
        definition = self._context.validation_definitions.add(
            gx.ValidationDefinition(name=config_name, data=batch_definition, suite=suite)
        )
        outcome = definition.run(
            batch_parameters={"dataframe": gx_frame(frame, expectations)},
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": QUOTED_VALUES},
        )
        # GX returns results in its own order; report failures in the suite's order.
        rank = {_key(c): i for i, c in enumerate(suite.expectation_configurations)}
        failed = [result for result in outcome.results if not result.success]
        failed.sort(key=lambda result: rank.get(_key(result.expectation_config), len(rank)))
        return GateResult(
            config=config_name,
            success=bool(outcome.success),
            failures=[describe_failure(result) for result in failed],
            evaluated=int(outcome.statistics["evaluated_expectations"]),
        )

    def build_data_docs(self) -> Path | None:
        """Write the Data Docs site (every suite and result so far); its index.html."""
        if self._data_docs is None:
            return None
        self._context.build_data_docs(site_names=[DATA_DOCS_SITE])
        return self._data_docs / "index.html"


def run_gate(
    configs: Mapping[str, tuple[pl.DataFrame, ConfigExpectations]], data_docs: Path | None
) -> GateReport:
    """Validate every config (name -> frame, expectations) and write one Data Docs site."""
    gate = ValidationGate(data_docs)
    results = [gate.validate(name, frame, spec) for name, (frame, spec) in configs.items()]
    return GateReport(results, gate.build_data_docs())


def validate_config(
    config_name: str, frame: pl.DataFrame, expectations: ConfigExpectations
) -> GateResult:
    """Validate one config's frame on its own (no Data Docs)."""
    return ValidationGate().validate(config_name, frame, expectations)


def _import_gx() -> Any:
    """Import Great Expectations without analytics, with its logging turned down to errors."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    # Some GX modules pin their own logger to INFO, so quieting the parent is not enough.
    for name in ["great_expectations", *logging.root.manager.loggerDict]:
        if name.startswith("great_expectations"):
            logging.getLogger(name).setLevel(logging.ERROR)
    return gx


def _expectations(gxe: Any, spec: ConfigExpectations, schema: pl.Schema) -> list[Any]:
    """The suite's expectations, in the order failures are reported."""
    as_json = json_compared_columns(schema, spec)
    expectations: list[Any] = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=[*spec.columns, *spec.measures], exact_match=True
        ),
        gxe.ExpectTableRowCountToBeBetween(min_value=spec.min_rows),
    ]
    expectations += [
        gxe.ExpectColumnValuesToBeOfType(column=c, type_=kind)
        for c, kind in spec.types.items()
        if c not in as_json
    ]
    expectations += [gxe.ExpectColumnValuesToNotBeNull(column=c) for c in spec.non_null]
    expectations += [gxe.ExpectColumnValuesToBeUnique(column=c) for c in spec.unique]
    expectations += [
        gxe.ExpectColumnValuesToBeInSet(column=c, value_set=list(values))
        for c, values in spec.value_sets.items()
    ]
    expectations += [
        gxe.ExpectColumnValuesToBeBetween(column=c, min_value=b.min, max_value=b.max)
        for c, b in spec.bounds.items()
    ]
    expectations += [
        gxe.ExpectColumnMeanToBeBetween(column=c, min_value=b.min, max_value=b.max)
        for c, b in spec.means.items()
    ]
    return expectations


def _key(configuration: Any) -> tuple[str, str | None]:
    return configuration.type, configuration.kwargs.get("column")
