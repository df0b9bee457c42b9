"""The window's actions (menu entries and keyboard shortcuts), created in one place.

The same table feeds the menus and the "Keyboard shortcuts" help dialog, so the help
can never disagree with what the keys do.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from annotator.gui.icons import action_icon


@dataclass(frozen=True)
class ActionSpec:
    name: str
    text: str
    menu: str
    keys: tuple[str, ...] = ()
    checkable: bool = False
    tip: str = ""
    #: A separator before this action in its menu: it begins a group.
    group: bool = False
    #: A held key runs it once, not again at the keyboard's repeat rate (on/off switches
    #: are always so): a held Ctrl+D flipped done / in progress 15 times in 1.2 s and
    #: queued a training round each time. Navigation, zoom, brush size, undo repeat.
    once: bool = False

    @property
    def repeats(self) -> bool:
        """Whether a held key runs the action again and again."""
        return not (self.once or self.checkable)


#: What a toolbar shows for an action without an icon (its menu text is too long there).
TOOLBAR_TEXT = {
    "previous": "Previous",
    "next": "Next",
    "mark_done": "Done",
    "next_suggested": "Suggested",
    "accept": "Accept all",
    "accept_class": "Accept class",
    "toggle_proposal": "Proposal",
    "toggle_uncertainty": "Uncertainty",
    "train_now": "Train",
    "cancel_training": "Cancel",
}


SPECS: tuple[ActionSpec, ...] = (
    ActionSpec(
        "new_project",
        "&New project…",
        "&File",
        ("Ctrl+N",),
        tip="Create a project from a folder of images, with your class names and colours",
    ),
    ActionSpec("open", "&Open project…", "&File", ("Ctrl+O",)),
    ActionSpec("welcome", "&Welcome…", "&File", tip="Open a project, create one, or the demo"),
    ActionSpec(
        "add_images",
        "&Add image files…",
        "&File",
        ("Ctrl+Shift+O",),
        tip="Add image files",
        group=True,
    ),
    ActionSpec("add_folder", "Add image fol&der…", "&File", tip="Add every image of a folder"),
    ActionSpec(
        "add_slices",
        "Add TIFF pages as s&lices…",
        "&File",
        tip="Add TIFF files whose 2 to 8 bare pages are the slices of a short stack, one "
        "image each (Add image files reads them as the channels of one picture)",
    ),
    ActionSpec(
        "import",
        "&Import labels…",
        "&File",
        ("Ctrl+I",),
        tip="Import masks, VOC, COCO, labelme or YOLO labels into this project",
        group=True,
    ),
    ActionSpec(
        "export",
        "&Export…",
        "&File",
        ("Ctrl+E",),
        tip="Write the labelled images as a training set (VOC, masks, COCO, labelme, YOLO)",
    ),
    ActionSpec(
        "save",
        "&Save now",
        "&File",
        ("Ctrl+S",),
        tip="Edits are saved automatically",
        group=True,
        once=True,
    ),
    ActionSpec("quit", "&Quit", "&File", ("Ctrl+Q",), group=True),
    ActionSpec("undo", "&Undo", "&Edit", ("Ctrl+Z",)),
    ActionSpec("redo", "&Redo", "&Edit", ("Ctrl+Shift+Z", "Ctrl+Y")),
    ActionSpec(
        "tool_brush", "&Brush", "&Tools", ("B",), True, "Drag to paint; right button erases"
    ),
    ActionSpec("tool_eraser", "&Eraser", "&Tools", ("E",), True, "Drag to unlabel"),
    ActionSpec(
        "tool_fill",
        "&Fill",
        "&Tools",
        ("F",),
        True,
        "Click to fill a connected region; right click erases",
    ),
    ActionSpec(
        "tool_polygon",
        "&Polygon",
        "&Tools",
        ("P",),
        True,
        "Click vertices; double-click or Enter closes; right clicks erase",
    ),
    ActionSpec(
        "tool_lasso",
        "&Lasso",
        "&Tools",
        ("L",),
        True,
        "Drag an outline; release fills it; right drag erases",
    ),
    ActionSpec(
        "tool_proposal_brush",
        "Pr&oposal brush",
        "&Tools",
        ("W",),
        True,
        "Drag to copy the model's proposal where the brush passes",
    ),
    ActionSpec(
        "tool_accept_region",
        "Accept &region",
        "&Tools",
        ("Q",),
        True,
        "Click one region of the proposal to accept just that region",
    ),
    ActionSpec(
        "tool_superpixel",
        "&Superpixel brush",
        "&Tools",
        ("S",),
        True,
        "Drag to paint whole superpixels (regions that follow the image's edges)",
    ),
    ActionSpec(
        "tool_grabcut",
        "&GrabCut box",
        "&Tools",
        ("G",),
        True,
        "Drag a box around an object: it gets the current class",
    ),
    ActionSpec(
        "tool_cleanup",
        "Clean &up",
        "&Tools",
        ("K",),
        True,
        "Drag an outline: fill holes and remove specks of the current class inside it",
    ),
    ActionSpec(
        "pick_class",
        "P&ick class under the cursor",
        "&Tools",
        ("I",),
        tip="Paint with the class of the pixel under the cursor; Alt+click picks too",
        group=True,
    ),
    ActionSpec(
        "choose_class",
        "&Choose class from a list…",
        "&Tools",
        ("C",),
        tip="A list of the classes at the pointer: type to filter, Enter picks",
    ),
    ActionSpec(
        "paint_void",
        "Paint &void (ignore)",
        "&Tools",
        ("V",),
        tip="Paint void: pixels to ignore, never trained on",
    ),
    ActionSpec(
        "toggle_protection",
        "Pro&tected painting",
        "&Tools",
        ("X",),
        tip="Switch between painting over anything and the chosen protection",
        group=True,
        once=True,
    ),
    ActionSpec(
        "cleanup_image",
        "Clea&n up the whole image",
        "&Tools",
        ("Shift+K",),
        tip="Fill holes and remove specks of the current class everywhere (one undo step)",
        once=True,
    ),
    ActionSpec("brush_smaller", "S&maller brush", "&Tools", ("[",), group=True),
    ActionSpec("brush_bigger", "Bigger brus&h", "&Tools", ("]",)),
    ActionSpec("toggle_labels", "S&how labels", "&View", ("H",), True),
    ActionSpec(
        "toggle_outlines",
        "Labels as &outlines",
        "&View",
        ("O",),
        True,
        "Draw each labelled region's border instead of filling it, to see the picture under it",
    ),
    ActionSpec(
        "labels_fainter",
        "Labels more trans&parent",
        "&View",
        (",",),
        tip="Lower the labels' opacity one step (10 %)",
        group=True,
    ),
    ActionSpec(
        "labels_stronger",
        "Labels more opa&que",
        "&View",
        (".",),
        tip="Raise the labels' opacity one step (10 %)",
    ),
    ActionSpec(
        "proposal_fainter",
        "P&roposal more transparent",
        "&View",
        ("<",),
        tip="Lower the opacity of the proposal and the uncertainty map one step (10 %)",
    ),
    ActionSpec(
        "proposal_stronger",
        "Proposal more opaqu&e",
        "&View",
        (">",),
        tip="Raise the opacity of the proposal and the uncertainty map one step (10 %)",
    ),
    ActionSpec(
        "fit",
        "&Fit to window",
        "&View",
        ("Ctrl+0",),
        tip="Show the whole image (Ctrl+1: one image pixel per screen pixel)",
        group=True,
    ),
    ActionSpec(
        "zoom_in",
        "Zoom &in",
        "&View",
        ("Ctrl++", "+", "="),  # (= is + without Shift on many keyboards)
        tip="Zoom in around the cursor when it is over the image, else around the centre",
    ),
    ActionSpec(
        "zoom_out",
        "Zoom ou&t",
        "&View",
        ("Ctrl+-", "-"),
        tip="Zoom out around the cursor when it is over the image, else around the centre",
    ),
    ActionSpec("zoom_1", "&Actual pixels", "&View", ("Ctrl+1",)),
    ActionSpec("contrast", "&Contrast…", "&View", ("Ctrl+K",), group=True),
    ActionSpec(
        "channels",
        "Cha&nnels…",
        "&View",
        tip="Which channels of the pictures are shown (and taken by new models)",
    ),
    ActionSpec("next", "Ne&xt image", "&Image", ("PgDown",), tip="Next image of the list"),
    ActionSpec("previous", "&Previous image", "&Image", ("PgUp",)),
    ActionSpec(
        "next_suggested",
        "&Next suggested image",
        "&Image",
        ("N",),
        tip="Open the image the strategy ranks first (most uncertain by default)",
    ),
    ActionSpec(
        "mark_done",
        "Mark &done",
        "&Image",
        ("Ctrl+D",),
        tip="Toggle the image between done and in progress",
        group=True,
        once=True,
    ),
    ActionSpec(
        "accept",
        "&Accept proposal",
        "&Model",
        ("A",),
        tip="Copy the proposal into the unlabelled pixels (one undo step)",
        once=True,
    ),
    ActionSpec(
        "accept_class",
        "Accept proposal for the current c&lass",
        "&Model",
        ("Shift+A",),
        tip="Copy the proposal of the selected class into the unlabelled pixels",
        once=True,
    ),
    ActionSpec("toggle_proposal", "Show p&roposal", "&Model", ("R",), True, group=True),
    ActionSpec("toggle_uncertainty", "Show &uncertainty", "&Model", ("U",), True),
    ActionSpec(
        "train_now",
        "&Train now",
        "&Model",
        ("Ctrl+T",),
        tip="Start a training round now",
        group=True,
        once=True,
    ),
    ActionSpec(
        "train_scratch",
        "Train from &scratch",
        "&Model",
        tip="Start a new model instead of continuing the current version (after classes changed)",
    ),
    ActionSpec(
        "cancel_training",
        "&Cancel training",
        "&Model",
        ("Ctrl+Shift+T",),
        tip="Stop the running round (the model version stays as it is)",
        once=True,
    ),
    ActionSpec(
        "import_model",
        "&Import model…",
        "&Model",
        tip="Use a model exported from another project with the same classes (a new version)",
        group=True,
    ),
    ActionSpec(
        "export_model",
        "E&xport model…",
        "&Model",
        tip="Write the active model version as one file, for another project or a colleague",
    ),
    ActionSpec(
        "shortcuts",
        "&Keyboard shortcuts",
        "&Help",
        ("F1", "?"),
        tip="Every key of every action, read from the menus",
    ),
    ActionSpec(
        "about",
        "&About Annotator",
        "&Help",
        tip="The version, the libraries it runs on, and where it keeps settings and its log",
    ),
)

# Not actions of their own but listed in the help.
EXTRA_KEYS: tuple[tuple[str, str], ...] = (
    ("1 … 9, 0", "Select class 1 to 10 (0: the tenth; C lists them all)"),
    ("Letters, Up/Down, Enter, Esc", "In the class list (C): filter, move, pick, close"),
    ("Space + drag, middle drag", "Pan (Space wherever the focus is, but a text field)"),
    ("Wheel", "Zoom around the cursor"),
    ("Horizontal wheel, trackpad sideways", "Pan sideways"),
    ("Shift+Wheel", "Brush radius"),
    ("Alt+click", "Pick the class under the cursor (as I)"),
    ("Esc", "Abort the stroke in progress / cancel an outline"),
    ("Enter, Backspace", "Close the polygon / remove its last vertex"),
    ("Right button", "Erase with the brush, fill, polygon, lasso or superpixel brush"),
)


def make_actions(parent: QWidget) -> dict[str, QAction]:
    """One QAction per spec, keyed by name (menus are built by the window)."""
    out: dict[str, QAction] = {}
    for spec in SPECS:
        action = QAction(spec.text, parent)
        if spec.keys:
            action.setShortcuts([QKeySequence(k) for k in spec.keys])
        action.setCheckable(spec.checkable)
        action.setAutoRepeat(spec.repeats)
        if (shown := action_icon(spec.name)) is not None:
            action.setIcon(shown)
        if spec.name in TOOLBAR_TEXT:
            action.setIconText(TOOLBAR_TEXT[spec.name])
        tip = spec.tip or spec.text.replace("&", "").rstrip("…")
        if spec.keys:
            tip += f" ({', '.join(spec.keys)})"
        action.setToolTip(tip)
        action.setStatusTip(tip)
        out[spec.name] = action
    return out
