/**
 * The studio's views, in the order the nav shows them: the one list App.svelte draws its tabs
 * and its page from, and the one place a new panel is registered (its id names it in
 * StudioState.view).
 */
import type { Component } from 'svelte';
import type { StudioState } from '../lib/state/studio.svelte';
import ConvertView from './ConvertView.svelte';
import HeatmapView from './HeatmapView.svelte';
import SettingsView from './SettingsView.svelte';
import StylesView from './StylesView.svelte';
import TrainView from './TrainView.svelte';

interface ViewEntry {
  id: string;
  /** The nav tab's words. */
  label: string;
  component: Component<{ studio: StudioState }>;
}

export const VIEWS = [
  { id: 'train', label: 'New style', component: TrainView },
  { id: 'styles', label: 'Styles', component: StylesView },
  { id: 'convert', label: 'Convert', component: ConvertView },
  { id: 'heatmaps', label: 'Heatmaps', component: HeatmapView },
  { id: 'settings', label: 'Settings', component: SettingsView },
] as const satisfies readonly ViewEntry[];

export type View = (typeof VIEWS)[number]['id'];
