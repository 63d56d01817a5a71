// tr_widgets caption: the line under a stepper's controls. The module anywidget loads for CaptionPanel,
// assembled by tr_widgets/widgets/esm.py from this file and player/caption.js (which exported pages import too).

import { renderCaption } from "./player/caption.js";

export default { render: renderCaption };
