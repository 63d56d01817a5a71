"""Steppers: one module per trace type, each a :class:`~tr_widgets.widgets.base.Stepper` that lays out its
panels (``widgets.panels``) with the helpers of ``widgets.layout`` and fills them from ``views``. No stepper
imports another; ``widgets.registry`` says which stepper shows which trace.
"""
