"""Model > Get a better model...: the curated hub models, downloaded, converted and installed in the app.

The steps, each with its own progress and Cancel:
  1. the disk check (download + bundle + the library's new vectors), before any byte is fetched;
  2. the download (desktop.core.hub_download on a worker thread: bytes, speed, time left; a cancelled
     or broken download resumes where it stopped the next time);
  3. the conversion, in the trainer process (`trainer convert FOLDER --hub-id ID`), its steps on the
     bar; the parity gate decides whether anything is installed;
  4. `installed(name)`: the main window switches to it, re-encoding photos in the background while the
     current model keeps answering.
The current model is never touched until step 4; a failure anywhere says so in one line.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from desktop.core import hub_download
from desktop.ui.trainer_run import TrainerRun, show_step, step_label
from desktop.ui.workers import GeneratorWorker, run_in_pool
from models import hub_catalog
from models.display import file_size, rough_duration
from models.errors import PicsiftError

COLUMNS = ("Model", "Download", "Languages", "Published zero-shot", "Indexing", "")
MEGABYTE = 1_000_000  # the bar counts megabytes: QProgressBar holds an int, and a model is up to ~4 GB


class GetModelDialog(QDialog):
    """The list, one model's costs, and the download -> convert -> install run.

    Signals:
        installed(str): a bundle was installed from the hub; its name.
    """

    installed = Signal(str)

    def __init__(self, photos: int, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Get a better model")
        self.resize(1220, 600)
        self.photos = photos
        self.models = hub_catalog.hub_models()
        self.installed_names = hub_catalog.installed_bundles(self.models)
        self.machine: hub_catalog.Machine | None = None
        self.worker: GeneratorWorker | None = None
        self.run: TrainerRun | None = None
        self.running_id = ""
        self._relay = None

        intro = QLabel("Dual encoders published on the Hugging Face hub, far stronger than the built-in model on "
                       "general photos. picsift downloads one, converts it on this computer and checks the result "
                       "against the original; your photos never leave this computer.", wordWrap=True)
        self.table = QTableWidget(len(self.models), len(COLUMNS))
        indexing = f"Indexing {photos:,} photos" if photos else "Indexing 1,000 photos"
        self.table.setHorizontalHeaderLabels([indexing if c == "Indexing" else c for c in COLUMNS])
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._selected)
        self.details = QLabel(wordWrap=True, textFormat=Qt.TextFormat.PlainText)
        self.details.setObjectName("details")
        self.details.setMinimumHeight(4 * self.details.fontMetrics().lineSpacing())
        self.bar = QProgressBar(textVisible=False)
        self.bar.hide()
        self.status = step_label("")
        self.get_button = QPushButton("Download and install", clicked=self.start_selected, default=True)
        self.cancel_button = QPushButton("Cancel", clicked=self.cancel, enabled=False)
        close = QPushButton("Close", clicked=self.reject, autoDefault=False)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.get_button, self.cancel_button, close):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        for widget in (intro, self.table, self.details, self.bar, self.status):
            layout.addWidget(widget)
        layout.addLayout(buttons)
        self._fill_table()
        self.table.selectRow(self._recommended_row("cpu"))
        self._relay = run_in_pool(hub_catalog.measure_machine, self._measured, self._say, owner=self)

    # --- the list ---------------------------------------------------------------------------
    def _fill_table(self) -> None:
        for row, model in enumerate(self.models):
            figure = model.headline or model.published[0]
            shown = f"{figure.benchmark} {figure.metric} {figure.value:g}" + ("*" if figure.of else "")
            cells = (f"{model.name}  ({model.family})", file_size(model.download_bytes), model.languages,
                     shown, "estimating...", self._state_text(model))
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
            self.table.item(row, 3).setToolTip("\n".join(f"{f.label()} - {f.source}" for f in model.published))

    def _state_text(self, model: hub_catalog.HubModel) -> str:
        badges = [f"recommended for a {'CPU laptop' if m == 'cpu' else 'GPU'}" for m in model.recommended]
        if model.hub_id in self.installed_names:
            return f"installed as {self.installed_names[model.hub_id]}"
        partial = hub_download.partial_bytes(model.hub_id)
        parts = badges + ([f"{file_size(partial)} downloaded, resumes"] if partial else [])
        return "; ".join(parts)

    def _recommended_row(self, marker: str) -> int:
        return next((row for row, model in enumerate(self.models) if marker in model.recommended), 0)

    def _measured(self, machine: hub_catalog.Machine) -> None:
        self.machine = machine
        photos = self.photos or 1000
        for row, model in enumerate(self.models):
            seconds = hub_catalog.indexing_seconds(model, photos, machine)
            self.table.item(row, 4).setText(f"about {rough_duration(seconds)}")
        self._selected()

    def selected_model(self) -> hub_catalog.HubModel | None:
        rows = self.table.selectionModel().selectedRows()
        return self.models[rows[0].row()] if rows else None

    def _selected(self) -> None:
        model = self.selected_model()
        if model is None:
            return
        need = hub_catalog.disk_needed(model, self.photos)
        speed = f"; indexing {self.photos:,} photos: about {rough_duration(hub_catalog.indexing_seconds(model, self.photos, self.machine))}" \
            if self.machine and self.photos else ""
        figures = "; ".join(f.label() for f in model.published)
        self.details.setText(
            f"{model.hub_id} - {model.licence} licence - {model.image_size} px, {model.embedding_dim}-d, "
            f"{model.gflops_image:g} GFLOPs per photo{speed}.\n"
            f"Disk: download {file_size(need.download_bytes)} (deleted after install), bundle {file_size(need.bundle_bytes)}, "
            f"vectors for {self.photos:,} photos {file_size(need.vectors_bytes)}; converting takes about "
            f"{file_size(hub_catalog.conversion_memory_bytes(model))} of memory.\nPublished zero-shot: {figures} (* measured on a related "
            "checkpoint; sources in the tooltip).")
        self._set_running(self.is_running())

    # --- the run ----------------------------------------------------------------------------
    def is_running(self) -> bool:
        return bool(self.worker and self.worker.is_running()) or bool(self.run and self.run.is_running())

    def _set_running(self, running: bool) -> None:
        model = self.selected_model()
        # Enabled once the machine is measured (a quarter of a second): BLAS threads measuring it beside a
        # download starved the download's thread for seconds on 2 cores.
        self.get_button.setEnabled(not running and self.machine is not None and model is not None
                                   and model.hub_id not in self.installed_names)
        self.cancel_button.setEnabled(running)
        self.table.setEnabled(not running)

    def start_selected(self) -> None:
        model = self.selected_model()
        if model is not None and self.machine is not None and not self.is_running():
            self.start(model)

    def start(self, model: hub_catalog.HubModel) -> None:
        """Check the disk, then download; the conversion follows when the download is complete."""
        try:
            hub_catalog.check_memory(model)
            hub_catalog.check_fits(model, self.photos)
        except PicsiftError as exc:
            self._say(str(exc))
            return
        self.running_id = model.hub_id
        self.bar.setRange(0, 0)
        self.bar.show()
        self._say(f"Asking the hub for {model.hub_id}...")
        self.worker = GeneratorWorker(lambda cancel: hub_download.download(model.hub_id, cancel))
        self.worker.progress.connect(self._download_progress)
        self.worker.finished.connect(self._downloaded)
        self.worker.errored.connect(self._failed)
        self.worker.start()
        self._set_running(True)

    def _download_progress(self, progress: hub_download.DownloadProgress) -> None:
        if progress.phase != "downloading" or not progress.total_bytes:
            return
        self.bar.setRange(0, max(1, progress.total_bytes // MEGABYTE))
        self.bar.setValue(progress.done_bytes // MEGABYTE)
        left = progress.seconds_left
        self._say(f"Downloading {progress.repo_id}: {file_size(progress.done_bytes)} of {file_size(progress.total_bytes)}"
                  f" - {file_size(int(progress.bytes_per_second))}/s"
                  + (f" - {rough_duration(left)} left" if left is not None else ""))

    def _downloaded(self, progress: hub_download.DownloadProgress | None) -> None:
        if progress is None or progress.phase != "done":
            kept = hub_download.partial_bytes(self.running_id)
            self._end(f"Cancelled; {file_size(kept)} kept: Download and install resumes where it stopped.")
            self._refresh_state(self.running_id)
            return
        self.bar.setRange(0, 0)
        self._say("Downloaded; converting (the trainer checks the converted model against the original)...")
        self.run = TrainerRun(["convert", str(progress.folder), "--hub-id", progress.repo_id],
                              f"converting {progress.repo_id}", self)
        self.run.event.connect(lambda event: show_step(event, self.bar, self.status))
        self.run.succeeded.connect(self._converted)
        self.run.cancelled.connect(lambda: self._end("Cancelled; nothing was installed and the current model is unchanged."))
        self.run.failed.connect(self._failed)
        self.run.start()
        self._set_running(True)

    def _converted(self) -> None:
        hub_id = self.running_id
        hub_download.discard(hub_id)  # the bundle holds what is needed
        name = hub_catalog.bundle_name_for(hub_id)
        self.installed_names[hub_id] = name
        self._end(f"Installed {name}. picsift now encodes your photos with it in the background; the current model "
                  "answers until it is done.")
        self._refresh_state(hub_id)
        self.installed.emit(name)

    def _failed(self, message: str) -> None:
        self._end(f"{message.rstrip('.')}. Nothing was installed; the current model keeps working.")
        self._refresh_state(self.running_id)

    def _refresh_state(self, hub_id: str) -> None:
        """The row's last column after a run: installed, or how much a resume would start from."""
        row = next(i for i, model in enumerate(self.models) if model.hub_id == hub_id)
        self.table.item(row, 5).setText(self._state_text(self.models[row]))

    def _end(self, text: str) -> None:
        self.bar.hide()
        self._say(text)
        self._set_running(False)

    def _say(self, text: str) -> None:
        self.status.setText(text)

    def cancel(self) -> None:
        """Stop the download (its bytes are kept for a resume) or the conversion (nothing installed)."""
        if self.worker is not None and self.worker.is_running():
            self.worker.cancel()
            self._say("Cancelling...")
        elif self.run is not None and self.run.is_running():
            self.run.cancel()

    def reject(self) -> None:
        """Closing the dialog cancels a run: a download keeps its bytes for next time."""
        self.cancel()
        if self.worker is not None:
            self.worker.wait()
        super().reject()

