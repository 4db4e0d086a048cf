"""The main window's models: loading, settings, getting and switching, the built-in update, fine-tuning, export, import."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from desktop.core.library import Library


class ModelMixin:
    """MainWindow's model controller; a switch that must re-encode photos does so through start_indexing."""

    # --- models -----------------------------------------------------------------------------
    def warm_up(self) -> None:
        """Load the model, its relevance calibration and the vector index on the engine thread, so the
        first query is instant (a model's first calibration takes a few seconds, once)."""
        def load():
            self.library.runtime.encode_texts(["warm up"])
            self.library.searcher().calibration  # noqa: B018 - computed or read from the cache here
            return self.library.vector_index
        self._on_engine(load, lambda _: self._show_provider())

    def _show_provider(self) -> None:
        runtime = self.library.loaded_runtime
        if runtime is not None:
            providers = set(runtime.providers().values()) or {"CPU"}
            self.provider_label.setText(f"model: {runtime.manifest.name} on {'/'.join(sorted(providers))}")

    def open_model_settings(self) -> None:
        from desktop.ui.dialogs import ModelSettingsDialog

        dialog = ModelSettingsDialog(self.provider_label.text(), self)
        dialog.useRequested.connect(self.use_model)
        dialog.open()

    def open_get_model(self) -> None:
        """Model > Get a better model...: the curated hub models; an installed one is switched to."""
        from desktop.ui.get_model import GetModelDialog

        def show(photos: int) -> None:
            self.get_model_dialog = GetModelDialog(photos, self)
            self.get_model_dialog.installed.connect(self.use_model)
            self.get_model_dialog.open()
        self._on_engine(lambda: len(self.library.catalog.live_image_ids()), show)  # distinct photos: what it encodes

    def resume_model_switch(self) -> None:
        """A switch whose re-encoding the last session did not finish goes on where it stopped."""
        from models import registry

        name = self.settings.switching_to
        if not name:
            return
        if name == registry.active_name() or not registry.bundle_folder(name).is_dir():
            self.settings.switching_to = ""
            return
        self.use_model(name)

    def use_model(self, name: str) -> None:
        """Switch models. Same image encoder: stored features are re-mapped, searchable in seconds.
        Another encoder: photos are encoded in the background while the current model keeps answering;
        closing the app meanwhile keeps what is encoded, and the next start goes on (resume_model_switch)."""
        from desktop.core.catalog import Catalog
        from models import registry
        from models.runtime import ModelRuntime

        self.settings.switching_to = name
        self.settings.save()

        def prepare():
            runtime = ModelRuntime(registry.open_installed(name), device=self.library.device)
            library = Library(Catalog(self.library.catalog.path), runtime, self.library.device, thumbnails=self.library.thumbnails)
            encoder = runtime.manifest.image_encoder_id
            missing = sum(len(library.catalog.files_missing_features(fid, encoder)) for fid, _ in library.catalog.folders())
            if not missing:
                library.vector_index  # noqa: B018 - builds (re-maps) the index off the GUI thread
            return library, missing
        self._on_engine(prepare, lambda result: self._model_prepared(name, *result))

    def _model_prepared(self, name: str, library: Library, missing: int) -> None:
        if not missing:
            self._switch_to(name, library)
            return
        self.status_label.setText(f"Encoding {missing} photos for {name}; {self.library.runtime.manifest.name} answers until then...")
        self.start_indexing(None, library, then=lambda: self._switch_to(name, library))

    def _switch_to(self, name: str, library: Library) -> None:
        from models import registry

        old, self.library = self.library, library
        self.settings.switching_to = ""
        self.watch.restart()  # its indexer encodes with the model it was started on

        def activate() -> None:  # on the engine thread, after the searches queued on the old library
            old.close()
            registry.use(name)
        self._on_engine(activate, lambda _: self.settings.save())
        self.status_label.setText(f"Now searching with {name}.")
        self.search_now()
        self.modelSwitched.emit(name)

    def offer_builtin_update(self) -> None:
        """Say so when the installed built-in model is older than the one this picsift builds."""
        from models import registry

        if registry.builtin_outdated():
            self.status_label.setText("A better built-in model is available (v2: multilingual, better on general photos): "
                                      "Model > Update the built-in model.")

    def update_builtin(self) -> None:
        """Rebuild the built-in model (a trainer process, with progress and Cancel), then switch to it."""
        from desktop.ui.dialogs import BuildModelDialog
        from models import registry

        dialog = BuildModelDialog(self, update=True)
        dialog.built.connect(lambda: self.use_model(registry.DEFAULT_BUNDLE))
        dialog.failed.connect(self.show_error)
        self.build_dialog = dialog
        dialog.start()

    def open_fine_tune(self) -> None:
        from desktop.ui.fine_tune import FineTuneDialog
        from desktop.ui.sort_dialog import open_sort_dialog

        running = getattr(self, "fine_tune_dialog", None)
        if running is not None and running.is_running():  # closed while training: show that run again
            running.open()
            return
        self.fine_tune_dialog = FineTuneDialog(self)
        self.fine_tune_dialog.useModel.connect(self.use_model)
        self.fine_tune_dialog.sortRequested.connect(lambda root, model: open_sort_dialog(self, root, model))
        self.fine_tune_dialog.open()

    def export_model(self) -> None:
        from models import registry

        name = registry.active_name()
        target, _ = QFileDialog.getSaveFileName(self, "Export model", str(Path.home() / f"{name}.zip"), "Model bundle (*.zip)")
        if target:
            self._on_engine(lambda: registry.export(name, target), lambda path: self.status_label.setText(f"Exported {name} to {path}"))

    def import_model(self) -> None:
        from models import registry

        source, _ = QFileDialog.getOpenFileName(self, "Import model", str(Path.home()), "Model bundle (*.zip)")
        if source:
            self._on_engine(lambda: registry.install(source), lambda bundle: self.status_label.setText(
                f"Imported and verified {bundle.name}; choose it in Model settings to use it."))
