// What matrix and bar canvases both draw: an outline around a cell, a row, a column or a bar. The current
// step gets a solid one in the mark colour; the largest weight a dashed one in the highlight colour.

export function outline(ctx, colour, dash, x, y, w, h) {
  ctx.save();
  ctx.strokeStyle = colour; ctx.lineWidth = 2; ctx.setLineDash(dash);
  ctx.strokeRect(x, y, w, h);
  ctx.restore();
}
